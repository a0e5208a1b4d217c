"""What a major incident's communication plan starts from.

Its sections come from the communication plan template.

The plan lives in incidents, which may not read comms; this module, which
may read both, gathers what the portal already knows (who is affected, the
update cadence, the templates per stage, how external updates are approved)
as rows that ``incidents.services.start_communication_plan`` fills in.
"""

import datetime as dt

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone

from incidents.models import AffectedCustomer, Incident, PlanRowStatus

from . import selectors
from .models import Audience, DeliveryRule, Message, Stage

# How long after resolution each follow-up is due unless people change it.
# Our defaults: the communication plan template asks for an owner and a date,
# not for these spans.
FOLLOW_UP_DAYS = {"rca_sent": 5, "credit": 3, "executive_follow_up": 7}
RENEWAL_FALLBACK_DAYS = 14
NAMED_ACCOUNTS_SHOWN = 20
REVIEWERS_SHOWN = 6


def _person(user) -> str:
    return (user.get_full_name() or user.get_username()) if user else ""


def _every(delta: dt.timedelta | None) -> str:
    if delta is None:
        return "as needed"
    hours = delta.total_seconds() / 3600
    if hours >= 24 and hours % 24 == 0:
        days = int(hours // 24)
        return f"every {days} day{'s' if days != 1 else ''}"
    if hours == int(hours):
        return f"every {int(hours)} h"
    return f"every {int(delta.total_seconds() // 60)} min"


def _accounts(incident: Incident) -> list:
    customers = [incident.customer] if incident.customer_id else []
    if incident.is_systemic:
        customers += [
            a.customer
            for a in AffectedCustomer.objects.filter(incident=incident).select_related(
                "customer"
            )
        ]
    return customers


def _reviewers() -> list[str]:
    """Return the people who may approve external messages."""
    perm = Q(
        groups__permissions__codename="approve_message",
        groups__permissions__content_type__app_label="comms",
    ) | Q(
        user_permissions__codename="approve_message",
        user_permissions__content_type__app_label="comms",
    )
    users = (
        get_user_model()
        .objects.filter(perm, is_active=True)
        .distinct()
        .order_by("first_name", "last_name", "username")[:REVIEWERS_SHOWN]
    )
    return [_person(u) for u in users]


def plan_prefill(incident: Incident, *, now: dt.datetime | None = None) -> list[dict]:
    """Return the plan rows the portal can fill for ``incident``."""
    now = now or timezone.now()
    owner = _person(incident.owner)
    customers = _accounts(incident)
    success_manager = next(
        (c.success_manager for c in customers if c.success_manager_id), None
    )
    target = selectors.policy_target_for(incident)
    audiences = selectors.involved_audiences(incident)
    rows = [
        _row(
            "summary",
            "what_happened",
            incident.customer_summary or incident.title,
            owner,
        ),
        _row(
            "summary",
            "customer_impact",
            f"Service {incident.get_service_status_display().lower()}; "
            f"{len(customers)} account{'s' if len(customers) != 1 else ''} "
            "affected" + (" (systemic)" if incident.is_systemic else ""),
            owner,
        ),
        _row("summary", "current_status", incident.get_status_display(), owner),
    ]
    named = [c.name for c in customers[:NAMED_ACCOUNTS_SHOWN]]
    if len(customers) > NAMED_ACCOUNTS_SHOWN:
        named.append(f"and {len(customers) - NAMED_ACCOUNTS_SHOWN} more")
    segments = sorted({c.get_segment_display() for c in customers})
    rows += [
        _row(
            "audience", "named_accounts", ", ".join(named) or "None listed yet", owner
        ),
        _row("audience", "segments", ", ".join(segments) or "—", owner),
        _row("audience", "internal_recipients", _internal(incident, target), owner),
    ]
    customer_told = Message.objects.filter(
        incident=incident, audience=Audience.CUSTOMER, status=Message.Status.SENT
    ).exists()
    cadences = "; ".join(
        f"{Audience(a).label} {_every(selectors.update_cadence(target, a))}"
        for a in audiences
    )
    rows += [
        _row(
            "message_timeline",
            "initial_message",
            "First customer message due by "
            f"{timezone.localtime(incident.first_response_due_at):%b %d, %H:%M}",
            owner,
            status=PlanRowStatus.COMPLETE if customer_told else PlanRowStatus.OPEN,
        ),
        _row("message_timeline", "ongoing_updates", f"Updates: {cadences}", owner),
        _row(
            "message_timeline",
            "resolved_message",
            "On resolution, to every audience told so far: "
            + ", ".join(Audience(a).label.lower() for a in audiences),
            owner,
        ),
        _row(
            "message_timeline",
            "post_incident_message",
            "After closure: what caused it and what prevents a repeat",
            owner,
        ),
    ]
    for key, stage, number in (
        ("template_initial", Stage.CREATION, None),
        ("template_update", Stage.FOLLOW_UP, 1),
        ("template_resolved", Stage.RESOLUTION, None),
        ("template_post_incident", Stage.POST_INCIDENT, None),
    ):
        template = selectors.template_for(
            stage=stage,
            audience=Audience.CUSTOMER,
            incident=incident,
            follow_up_number=number,
        )
        rows.append(
            _row(
                "templates",
                key,
                f"{template.name} ({template.key})"
                if template
                else "No template fits; write one in the composer",
                "",
            )
        )
    modes = dict(DeliveryRule.Mode.choices)
    rows += [
        _row(
            "approval_flow",
            "approval_rule",
            "; ".join(
                f"{Audience(a).label}: "
                + modes[selectors.delivery_mode(incident, audience=a)].lower()
                for a in audiences
                if a != Audience.INTERNAL
            )
            or "Internal updates only",
            "",
        ),
        _row("approval_flow", "reviewers", ", ".join(_reviewers()) or "—", ""),
    ]
    base = (
        timezone.localdate(incident.resolved_at)
        if incident.resolved_at
        else (timezone.localdate(now))
    )
    renewal = next((c.renewal_on for c in customers if c.renewal_on), None)
    follow_up_owner = _person(success_manager) or owner
    rows += [
        _row(
            "follow_up",
            "rca_sent",
            "Send the root-cause summary to affected customers",
            owner,
            due_on=base + dt.timedelta(days=FOLLOW_UP_DAYS["rca_sent"]),
        ),
        _row(
            "follow_up",
            "credit",
            "Decide and apply any service credit"
            + (f" (paid {incident.amount_paid})" if incident.amount_paid else ""),
            owner,
            due_on=base + dt.timedelta(days=FOLLOW_UP_DAYS["credit"]),
        ),
        _row(
            "follow_up",
            "renewal_risk",
            f"Renewal on {renewal:%b %d, %Y}" if renewal else "Check renewal risk",
            follow_up_owner,
            due_on=renewal or base + dt.timedelta(days=RENEWAL_FALLBACK_DAYS),
        ),
        _row(
            "follow_up",
            "executive_follow_up",
            "Executive call or letter to the most affected accounts",
            follow_up_owner,
            due_on=base + dt.timedelta(days=FOLLOW_UP_DAYS["executive_follow_up"]),
        ),
    ]
    return rows


def _internal(incident: Incident, target) -> str:
    parts = []
    route = selectors.chat_route_for(incident)
    if route:
        parts.append(f"{route.channel_name} {route.ping}".strip())
    if incident.owner_id:
        parts.append(f"owner {_person(incident.owner)}")
    if target is not None and target.notifies_executives:
        parts.append("executives (the policy tells them at once)")
    return ", ".join(parts) or "—"


def _row(section, key, details, owner, *, due_on=None, status=""):
    return {
        "section": section,
        "key": key,
        "item": key.replace("_", " ").capitalize(),
        "details": details,
        "owner": owner,
        "due_on": due_on,
        "status": status,
    }
