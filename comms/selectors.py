"""Reads that the composer, the approval queue and the scheduler share."""

import datetime as dt

from django.db.models import Count, Q, QuerySet

from incidents.models import Incident, PolicyTarget

from .models import (
    Audience,
    Channel,
    ChatRoute,
    DeliveryRule,
    ExternalParty,
    Message,
    MessageTemplate,
    Stage,
)


def _specificity(template: MessageTemplate, situation: str) -> tuple:
    """Rank a candidate: every filter it sets that matches counts once.

    A narrower follow-up range beats a wider one; an exact situation beats
    "any". Ties go to the lower key, so the choice is stable.
    """
    if template.follow_up_from is None:
        width = 10**6
    elif template.follow_up_to is None:
        width = 10**3
    else:
        width = template.follow_up_to - template.follow_up_from
    return (
        -sum(
            (
                bool(template.priority),
                bool(template.category_id),
                bool(template.situation) and template.situation == situation,
                template.follow_up_from is not None,
            )
        ),
        width,
        template.key,
    )


def matching_templates(
    *,
    stage: str,
    audience: str,
    incident: Incident,
    channel: str | None = None,
    follow_up_number: int | None = None,
    situation: str = "",
) -> QuerySet:
    """Return active templates that fit, before ranking (filters applied)."""
    candidates = MessageTemplate.objects.filter(
        stage=stage, audience=audience, is_active=True, current_version__isnull=False
    ).select_related("current_version")
    if channel:
        candidates = candidates.filter(channel=channel)
    candidates = candidates.filter(
        Q(priority="") | Q(priority=incident.priority),
        Q(category__isnull=True) | Q(category_id=incident.category_id),
        Q(situation="") | Q(situation=situation),
    )
    if follow_up_number is not None:
        candidates = candidates.filter(
            Q(follow_up_from__isnull=True) | Q(follow_up_from__lte=follow_up_number),
            Q(follow_up_to__isnull=True) | Q(follow_up_to__gte=follow_up_number),
        )
    else:
        candidates = candidates.filter(follow_up_from__isnull=True)
    return candidates


def template_for(
    *,
    stage: str,
    audience: str,
    incident: Incident,
    channel: str | None = None,
    follow_up_number: int | None = None,
    situation: str = "",
) -> MessageTemplate | None:
    """Return the most specific active template for this message, or None."""
    candidates = list(
        matching_templates(
            stage=stage,
            audience=audience,
            incident=incident,
            channel=channel,
            follow_up_number=follow_up_number,
            situation=situation,
        )
    )
    if not candidates:
        return None
    return min(candidates, key=lambda t: _specificity(t, situation))


def chat_route_for(incident: Incident) -> ChatRoute | None:
    """Return the most specific chat route for the incident (000 2B)."""
    routes = ChatRoute.objects.filter(
        Q(priority="") | Q(priority=incident.priority),
        Q(is_systemic=False) | Q(is_systemic=incident.is_systemic),
        Q(category__isnull=True) | Q(category_id=incident.category_id),
    )

    def rank(route):
        return (
            -bool(route.priority),
            -route.is_systemic,
            -bool(route.category_id),
            route.pk,
        )

    return min(routes, key=rank, default=None)


def default_recipients(
    incident: Incident,
    *,
    audience: str,
    channel: str,
    stage: str = "",
    party: ExternalParty | None = None,
) -> list[str]:
    """Return who a message goes to unless the sender changes it."""
    if channel == Channel.NOTE:
        return []
    if channel == Channel.CHAT:
        route = chat_route_for(incident)
        return [route.channel_name] if route else []
    if audience == Audience.CUSTOMER:
        if incident.customer:
            return [incident.customer.email]
        return []
    if audience in (Audience.PARTNER, Audience.VENDOR) and party:
        if stage == Stage.ESCALATION and party.escalation_email:
            return [party.escalation_email]
        return [party.support_email]
    return []


def delivery_mode(incident: Incident, *, audience: str) -> str:
    """Return how a message to ``audience`` leaves: automatic, draft, approval."""
    if audience == Audience.INTERNAL:
        return DeliveryRule.Mode.AUTOMATIC
    rules = DeliveryRule.objects.filter(
        Q(priority="") | Q(priority=incident.priority),
        Q(is_systemic=False) | Q(is_systemic=incident.is_systemic),
        audience=audience,
    )
    # Approval beats draft beats automatic among equally specific rules:
    # when two rules fit, the stricter one applies.
    strictness = {
        DeliveryRule.Mode.APPROVAL: 0,
        DeliveryRule.Mode.DRAFT: 1,
        DeliveryRule.Mode.AUTOMATIC: 2,
    }
    best = min(
        rules,
        key=lambda r: (-bool(r.priority) - r.is_systemic, strictness[r.mode]),
        default=None,
    )
    return best.mode if best else DeliveryRule.Mode.AUTOMATIC


LIVE_MESSAGE_STATUSES = ("scheduled", "queued", "sending", "sent")
DEFAULT_CHANNEL = {
    Audience.INTERNAL: Channel.CHAT,
    Audience.CUSTOMER: Channel.EMAIL,
    Audience.PARTNER: Channel.EMAIL,
    Audience.VENDOR: Channel.EMAIL,
}


def involved_audiences(incident: Incident) -> list[str]:
    """Return who should hear about this incident."""
    audiences = [Audience.INTERNAL]
    if incident.customer_id or incident.is_systemic:
        audiences.append(Audience.CUSTOMER)
    if incident.is_partner_action_needed:
        audiences.append(Audience.PARTNER)
    if incident.is_vendor_action_needed:
        audiences.append(Audience.VENDOR)
    return audiences


def suggested_messages(incident: Incident) -> list[dict]:
    """Return the message each involved audience is due next, with its template.

    The stage follows the incident: nothing sent yet is creation, then
    follow-ups numbered by what was already sent, resolution once resolved,
    closure once closed.
    """
    sent = {}
    for audience, stage, count in (
        Message.objects.filter(incident=incident, status__in=LIVE_MESSAGE_STATUSES)
        .order_by()
        .values_list("audience", "stage")
        .annotate(n=Count("id"))
    ):
        sent[(audience, stage)] = count
    suggestions = []
    for audience in involved_audiences(incident):
        follow_up_number = None
        if incident.status in Incident.CLOSED_STATUSES:
            stage = Stage.CLOSURE
        elif incident.status == Incident.Status.RESOLVED:
            stage = Stage.RESOLUTION
        elif not sent.get((audience, Stage.CREATION)):
            stage = Stage.CREATION
        else:
            stage = Stage.FOLLOW_UP
            follow_up_number = sent.get((audience, Stage.FOLLOW_UP), 0) + 1
        channel = DEFAULT_CHANNEL[audience]
        situation = ""
        if stage == Stage.CREATION and incident.signal_id and audience == "customer":
            situation = "proactive"
        if stage == Stage.RESOLUTION and incident.is_systemic:
            situation = "systemic" if audience == "internal" else "outage_restored"
        if stage == Stage.CLOSURE and audience == "customer":
            situation = "customer_confirmed"
        template = template_for(
            stage=stage,
            audience=audience,
            channel=channel,
            incident=incident,
            follow_up_number=follow_up_number,
            situation=situation,
        )
        suggestions.append(
            {
                "audience": audience,
                "channel": channel,
                "stage": stage,
                "situation": situation,
                "follow_up_number": follow_up_number,
                "template": template,
            }
        )
    return suggestions


def incident_messages(incident: Incident) -> QuerySet:
    """Return an incident's messages, newest first, ready to list."""
    return Message.objects.filter(incident=incident).select_related(
        "created_by", "decided_by", "party", "template_version__template"
    )


def approval_queue() -> QuerySet:
    """Return external messages waiting for a manager, oldest first."""
    return (
        Message.objects.filter(status="awaiting_approval")
        .select_related("incident", "created_by", "party")
        .order_by("created_at", "id")
    )


CADENCE_FIELD = {
    Audience.INTERNAL: "internal_update_minutes",
    Audience.CUSTOMER: "customer_update_minutes",
    Audience.PARTNER: "partner_update_minutes",
    Audience.VENDOR: "partner_update_minutes",
}


def next_update_due(incident: Incident, *, audience: str, now) -> dt.datetime | None:
    """Return when ``audience`` is next due an update under the incident's policy."""
    minutes = (
        PolicyTarget.objects.filter(
            policy_id=incident.policy_id, priority=incident.priority
        )
        .values_list(CADENCE_FIELD[audience], flat=True)
        .first()
    )
    return now + dt.timedelta(minutes=minutes) if minutes else None
