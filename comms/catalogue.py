"""The variables a message template may use, and how they are filled.

Templates see plain values (strings, numbers, lists), never model objects,
so they cannot follow relations or call methods that query or write.
Times are already formatted in the reader's time zone.
"""

import datetime as dt
import zoneinfo
from typing import Any

from django.conf import settings
from django.utils import timezone

from incidents.models import (
    Customer,
    Incident,
    SecurityChecklistItem,
    SecurityResponse,
)
from incidents.selectors import (
    incident_clocks,
    incident_key_metrics,
    overall_clock_state,
)
from incidents.sla import CLOCK_STATE_LABELS, span
from incidents.surveys import survey_path
from portal.middleware import SESSION_TIME_ZONE_KEY

from .models import Audience, ExternalParty, FollowUpLoop, Message, Reply
from .selectors import policy_target_for, update_cadence

CATALOGUE: dict[str, str] = {
    "incident.reference": "INC number, e.g. INC-00042",
    "incident.title": "One-line title",
    "incident.priority": "P1 … P4",
    "incident.severity": "Critical, High, Medium or Low",
    "incident.status": "Current status, in words",
    "incident.category": "Category name (eSIM, Port-In, …)",
    "incident.signal": "Signal code (SIG-003) or REPORTED (internal)",
    "incident.what_happened": "The internal narrative (not for customers)",
    "incident.customer_summary": "What the customer is told about the problem",
    "incident.fix": "What was done to fix it, in the customer's words",
    "incident.service_status": "Active, No service, Degraded, Pending activation",
    "incident.impact_started_at": "When impact began (reader's zone), or empty",
    "incident.impact_duration": "How long the impact has lasted, e.g. 5 hours",
    "incident.root_cause": "Root cause, or 'Under investigation' (internal)",
    "incident.contact_count": "Times the customer contacted us",
    "incident.sentiment": "Customer sentiment (internal)",
    "incident.is_systemic": "True when many customers are affected",
    "incident.affected_count": "Number of affected customers listed",
    "incident.opened_at": "When the incident was opened (reader's zone)",
    "incident.resolved_at": "When it was resolved, or empty",
    "incident.commander": "Who leads a Sev 1's war room, or empty (internal)",
    "incident.war_room": "The war room's call link, or empty (internal)",
    "incident.url": "Link to the incident page (staff only)",
    "incident.tags": "List of tags (internal)",
    "incident.amount_paid": "Amount the customer paid, e.g. $45.00, or empty",
    "incident.partner_action": "What the partner must do, or empty (internal)",
    "incident.vendor_action": "What the vendor must do, or empty (internal)",
    "incident.engineering_action": "What engineering must do, or empty (internal)",
    "incident.needs_outside_help": "True when a partner or vendor must act "
    "before it can be fixed",
    "sla.first_response_due": "First-response deadline (reader's zone)",
    "sla.resolution_due": "Resolution deadline (reader's zone)",
    "sla.state": "Met, Running, At risk or Breached (worst clock; internal)",
    "cadence.internal": "How often the team hears, e.g. 'every 2 hours'; empty "
    "when the policy says as needed",
    "cadence.customer": "How often the customer hears from us under the "
    "incident's policy, e.g. 'every 4 hours'; empty when as needed",
    "cadence.partner": "How often partners and vendors hear from us",
    "customer.name": "Customer name (empty on systemic incidents)",
    "customer.first_name": "Who to greet: the contact person's first name, else "
    "the first word of the customer name ('there' when the incident has no "
    "single customer)",
    "customer.contact_name": "Contact person at the customer, or empty",
    "customer.email": "Customer e-mail",
    "customer.account_id": "Account id",
    "customer.segment": "Enterprise, Standard or Trial",
    "customer.is_vip": "True for VIP customers",
    "customer.contact_title": "The contact person's title, e.g. Fleet Manager",
    "customer.company": "Company name, or empty",
    "customer.phone": "Phone number, or empty",
    "customer.account_status": "Active, Pending activation, Suspended or "
    "Cancelled (internal)",
    "customer.old_carrier_account": "Old carrier's account number, masked to "
    "its last four characters (internal)",
    "customer.package": "Package level, or empty",
    "customer.annual_value": "Annual contract value with its currency, e.g. "
    "100,000.00 USD, or empty (internal)",
    "customer.relationship": "How long and how well, e.g. 'customer for 3 "
    "years, at risk' (internal)",
    "customer.success_manager": "Name of the assigned customer success "
    "manager, or empty",
    "customer.renewal_on": "Contract renewal date, e.g. 1 Mar 2027, or empty "
    "(internal)",
    "owner.name": "Incident owner; before anyone owns it, 'Unassigned' in "
    "internal messages and the support team's name in external ones",
    "owner.email": "Owner's e-mail, or empty",
    "sender.name": "Person sending the message, or the team when the portal does",
    "sender.is_person": "True when a person sends it, false when the portal does",
    "party.name": "Partner or vendor name (partner/vendor messages)",
    "party.account_ref": "Our account reference at the partner or vendor",
    "party.ack_hours": "Contracted acknowledgement time, in hours",
    "party.ticket_id": "The partner's or vendor's own ticket number for this "
    "incident, or empty",
    "party.follow_ups_sent": "How many follow-ups we sent them on this incident",
    "party.follow_up_dates": "When those follow-ups left, e.g. 'Wed 18 Nov, 10:00; "
    "Wed 18 Nov, 14:00'",
    "party.replies": "How many replies they sent on this incident",
    "party.last_reply": "Their latest reply: when, and its first words",
    "follow_up_number": "1 for the first follow-up, 2 for the second, …",
    "next_update_at": "When the reader will hear from us next (reader's zone)",
    "next_customer_update_at": "When the customer is next due an update "
    "(reader's zone), for internal messages",
    "support.team": "Our support team's name",
    "survey.url": "The customer's one-question satisfaction survey link; empty "
    "for systemic incidents and for staff",
    "metrics.time_to_detect": "From impact start to detection, e.g. 25 min, or "
    "'not recorded' (internal)",
    "metrics.time_to_first_response": "From opening to the first reply (internal)",
    "metrics.time_to_resolution": "From opening to resolution (internal)",
    "metrics.sla_met": "Yes, No, or 'still running' (internal)",
    # Credits and refunds: filled only when a credit's approval sends the
    # message; empty everywhere else.
    "credit.kind": "What was granted, in words: a service credit, a refund, a "
    "plan extension, a waived charge",
    "credit.amount": "The amount with its currency, e.g. 250.00 USD",
    "credit.extension_days": "For a plan extension, the days added, else empty",
    # Escalations: filled only in the alert an escalation sends its tier;
    # empty everywhere else.
    "escalation.tier": "The tier it went to, e.g. Tier 2 (internal)",
    "escalation.raised_by": "Who asked for it, or the rule that did (internal)",
    "escalation.approved_by": "The manager who approved it, or empty when it "
    "needed no approval (internal)",
    "escalation.summary": "The escalation's one-paragraph summary (internal)",
    "escalation.tried": "What was tried, step → result, one per line (internal)",
    "escalation.promise": "How soon the customer hears from us while the tier "
    "has the case, e.g. '24 hours'; empty when the tier sets none",
    "escalation.why": "On the urgent path, why it is urgent, as the agent wrote "
    "it (internal)",
    "escalation.risk": "On the urgent path, the immediate risk (internal)",
    # Security incidents: filled only in the customer security notice, and
    # only with what the security response recorded.
    "security.found": "What we found, from the kind of security incident "
    "recorded, e.g. 'that someone reached data in our systems without "
    "permission'",
    "security.steps_taken": "The response steps ticked done, in a customer's "
    "words, one '- ' line each; empty when none is",
    # Status pages: public, so any audience may read it.
    "status_page.url": "The public status page showing this incident, once "
    "something about it is posted there; empty otherwise",
    # Auto-close: the incident policy's own waits, in words.
    "auto_close.after_check_in": "How long after the check-in a quiet resolved "
    "incident is closed, e.g. '3 days'",
    "auto_close.waiting_for": "How long we wait for the customer's information "
    "before closing as pending, e.g. '7 days'",
}
TOP_LEVEL_NAMES = {path.split(".")[0] for path in CATALOGUE}

# Internal working notes: a customer template may not use them, and the
# context a customer message is rendered from does not contain them.
INTERNAL_ONLY = frozenset(
    {
        "incident.signal",
        "incident.what_happened",
        "incident.root_cause",
        "incident.sentiment",
        "incident.url",
        "incident.commander",
        "incident.war_room",
        "incident.tags",
        "incident.partner_action",
        "incident.vendor_action",
        "incident.engineering_action",
        "sla.state",
        "next_customer_update_at",
        "customer.account_status",
        "customer.old_carrier_account",
        "customer.annual_value",
        "customer.relationship",
        "customer.renewal_on",
        "metrics.time_to_detect",
        "metrics.time_to_first_response",
        "metrics.time_to_resolution",
        "metrics.sla_met",
        "escalation.tier",
        "escalation.raised_by",
        "escalation.approved_by",
        "escalation.summary",
        "escalation.tried",
        "escalation.why",
        "escalation.risk",
    }
)
EXTERNAL_AUDIENCES = frozenset({Audience.CUSTOMER, Audience.PARTNER, Audience.VENDOR})


def _zone_name(local: dt.datetime, zone: zoneinfo.ZoneInfo) -> str:
    abbreviation = local.tzname() or ""
    # Zones without a letter abbreviation give "+03"; name the zone instead.
    if not abbreviation or abbreviation[0] in "+-":
        return str(zone.key)
    return abbreviation


def _when(moment: dt.datetime | None, zone: zoneinfo.ZoneInfo) -> str:
    if moment is None:
        return ""
    local = moment.astimezone(zone)
    return f"{local:%a %d %b %Y, %H:%M} {_zone_name(local, zone)}"


def _duration(since: dt.datetime | None, now: dt.datetime) -> str:
    if since is None:
        return ""
    seconds = max(int((now - since).total_seconds()), 0)
    hours = seconds // 3600
    if hours < 1:
        # "0 hours" read as nothing at all to someone waiting 50 minutes.
        minutes = max(seconds // 60, 1)
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    if hours < 48:
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{hours // 24} days"


def span_words(minutes: int | None) -> str:
    """Return a policy's wait in words: '3 days', '1 day', '36 hours', ''."""
    if not minutes:
        return ""
    if minutes % (24 * 60) == 0:
        days = minutes // (24 * 60)
        return f"{days} day{'s' if days != 1 else ''}"
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def customer_promise(
    incident: Incident, tier_minutes: int | None
) -> tuple[int | None, str]:
    """How soon a tier promises the customer hears from us, in minutes and in
    words ('24 hours'): the tier's own span, or the priority's usual cadence
    where that is sooner. (None, '') when the tier promises nothing."""
    if not tier_minutes:
        return None, ""
    cadence = update_cadence(policy_target_for(incident), Audience.CUSTOMER)
    minutes = tier_minutes
    if cadence and cadence.total_seconds() // 60 < minutes:
        minutes = int(cadence.total_seconds() // 60)
    if minutes % 60 or minutes > 72 * 60:
        return minutes, span_words(minutes)
    hours = minutes // 60
    return minutes, f"{hours} hour{'s' if hours != 1 else ''}"


def every(interval: dt.timedelta | None) -> str:
    """Return a cadence in words: 'every 30 minutes', 'every hour', ''."""
    if interval is None:
        return ""
    minutes = int(interval.total_seconds() // 60)
    if minutes % (24 * 60) == 0:
        days = minutes // (24 * 60)
        return "every day" if days == 1 else f"every {days} days"
    if minutes % 60 == 0:
        hours = minutes // 60
        return "every hour" if hours == 1 else f"every {hours} hours"
    return f"every {minutes} minutes"


def _years(since: dt.date | None, today: dt.date) -> str:
    if since is None:
        return ""
    months = (today.year - since.year) * 12 + today.month - since.month
    if months < 12:
        return f"customer for {max(months, 0)} month{'s' if months != 1 else ''}"
    years = months // 12
    return f"customer for {years} year{'s' if years != 1 else ''}"


def customer_record(customer: Customer | None, *, today: dt.date) -> dict[str, Any]:
    """Return the customer record's fields as templates see them."""
    if customer is None:
        return dict.fromkeys(CUSTOMER_RECORD_FIELDS, "")
    value = customer.annual_contract_value
    since = _years(customer.customer_since_on, today)
    relationship = customer.get_relationship_status_display().lower()
    return {
        "contact_title": customer.contact_title,
        "company": customer.company,
        "phone": customer.phone,
        "account_status": customer.get_account_status_display(),
        "old_carrier_account": customer.masked_old_carrier_account,
        "package": customer.package_level,
        "annual_value": f"{value:,.2f} {customer.contract_currency}"
        if value is not None
        else "",
        "relationship": f"{since}, {relationship}" if since else relationship,
        "success_manager": (
            customer.success_manager.get_full_name()
            or customer.success_manager.get_username()
        )
        if customer.success_manager
        else "",
        "renewal_on": f"{customer.renewal_on:%-d %b %Y}" if customer.renewal_on else "",
    }


CUSTOMER_RECORD_FIELDS = (
    "contact_title",
    "company",
    "phone",
    "account_status",
    "old_carrier_account",
    "package",
    "annual_value",
    "relationship",
    "success_manager",
    "renewal_on",
)


def _team_phrase(team: str) -> str:
    return team if "team" in team.lower() else f"the {team} team"


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def _greeting_name(customer: Customer | None) -> str:
    if customer is None:
        return "there"
    words = (customer.contact_name or customer.name).split()
    return words[0] if words else "there"


def message_zone(
    incident: Incident, *, audience: str | None, reader_zone: str, policy_zone: str
) -> str:
    """Return the zone the reader of a message sees times in.

    Customers read their own zone (else the policy's). Everyone else, the
    team included, reads the policy's: a note reads the same whether a
    person or the portal wrote it, wherever the writer sits. Only text
    shown to the signed-in person alone (no audience) uses their zone.
    """
    if audience == Audience.CUSTOMER:
        customer = incident.customer
        if customer and customer.time_zone and not incident.is_systemic:
            return customer.time_zone
        return policy_zone
    if audience:
        return policy_zone
    return reader_zone


def _without_internal(context: dict[str, Any]) -> dict[str, Any]:
    for path in INTERNAL_ONLY:
        group, _, name = path.partition(".")
        if name:
            context[group].pop(name, None)
        else:
            context.pop(group, None)
    return context


NO_CREDIT = {"kind": "", "amount": "", "extension_days": ""}
NO_SECURITY = {"found": "", "steps_taken": ""}
NO_PARTY_RECORD = {
    "ticket_id": "",
    "follow_ups_sent": "0",
    "follow_up_dates": "",
    "replies": "0",
    "last_reply": "",
}


def party_record(
    incident: Incident, party: ExternalParty, zone: zoneinfo.ZoneInfo
) -> dict[str, str]:
    """What we know of our dealings with a partner or vendor on an incident:
    their ticket number, our follow-ups and their replies."""
    if incident.pk is None or party.pk is None:  # a preview of a template
        return dict(NO_PARTY_RECORD)
    ticket_id = (
        FollowUpLoop.objects.filter(incident=incident, party=party)
        .exclude(their_ticket_id="")
        .order_by("-started_at")
        .values_list("their_ticket_id", flat=True)
        .first()
    )
    sent = list(
        Message.objects.filter(
            incident=incident,
            party=party,
            stage="follow_up",
            status=Message.Status.SENT,
        )
        .order_by("sent_at")
        .values_list("sent_at", flat=True)
    )
    replies = list(
        Reply.objects.filter(incident=incident, party=party)
        .order_by("received_at")
        .values_list("received_at", "text")
    )
    last = ""
    if replies:
        at, text = replies[-1]
        words = " ".join(text.split())
        last = f"{at.astimezone(zone):%a %d %b, %H:%M}: " + (
            words if len(words) <= 120 else words[:119] + "…"
        )
    return {
        "ticket_id": ticket_id or "",
        "follow_ups_sent": str(len(sent)),
        "follow_up_dates": "; ".join(
            f"{at.astimezone(zone):%a %d %b, %H:%M}" for at in sent if at
        ),
        "replies": str(len(replies)),
        "last_reply": last,
    }


# What the customer may read about each kind of security incident.
SECURITY_FOUND = {
    "data_breach": "that someone reached data in our systems without permission",
    "account_compromise": "that someone signed in to accounts without permission",
    "vulnerability_disclosure": "a weakness in our systems that could have "
    "exposed data",
    "ddos": "an attack that flooded our service to take it down",
    "malware": "malicious software on some of our systems",
    "insider_threat": "that someone with access to our systems misused it",
}
# Response steps (the security checklist's own text) a customer is told of
# once ticked done, in their words; steps not listed stay internal.
SECURITY_STEPS_FOR_CUSTOMERS = {
    "Disable compromised user accounts": "disabled the accounts involved",
    "Rotate exposed API keys and credentials": "replaced the keys and passwords "
    "that were exposed",
    "Close the attack vectors": "closed the way in that was used",
    "Apply security patches": "applied security fixes",
    "Fix the vulnerable code": "fixed the weakness that was used",
    "Reset all credentials": "reset the credentials in our systems",
    "Rebuild compromised systems": "rebuilt the affected systems",
    "Scan for malware": "scanned our systems for malicious software",
    "Add alerts": "added monitoring and alerts",
}


def security_words(incident: Incident) -> dict[str, str]:
    """What the customer security notice may say: only what was recorded."""
    response = (
        SecurityResponse.objects.filter(incident=incident).only("incident_type").first()
    )
    if response is None:
        return dict(NO_SECURITY)
    done = set(
        SecurityChecklistItem.objects.filter(
            phase__response=response, is_done=True
        ).values_list("text", flat=True)
    )
    return {
        "found": SECURITY_FOUND.get(response.incident_type, ""),
        "steps_taken": "\n".join(
            f"- We {words}."
            for text, words in SECURITY_STEPS_FOR_CUSTOMERS.items()
            if text in done
        ),
    }


NO_ESCALATION = {
    "tier": "",
    "raised_by": "",
    "approved_by": "",
    "summary": "",
    "tried": "",
    "promise": "",
    "why": "",
    "risk": "",
}


def _affected_count(incident: Incident) -> int:
    """Count the reporting customer and every other customer listed, once each."""
    reporter = 1 if incident.customer_id else 0
    if not incident.is_systemic:
        return reporter
    others = incident.affected_customers.all()
    if incident.customer_id:
        others = others.exclude(customer_id=incident.customer_id)
    return reporter + others.count()


def incident_context(
    incident: Incident,
    *,
    audience: str | None = None,
    reader_zone: str = "UTC",
    sender_name: str = "",
    follow_up_number: int = 0,
    party: ExternalParty | None = None,
    base_url: str = "",
    credit: dict[str, str] | None = None,
    recipient: Customer | None = None,
    escalation: dict[str, str] | None = None,
    security: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Return the template context for one incident, for one reader.

    The SLA state, the cadences and the next update times come from the
    incident's own policy and priority, so the composer, the admin preview
    and the scheduler all fill templates the same way. A customer's context
    leaves out internal notes and shows times in the customer's zone.

    A customer message on a systemic incident goes to every affected
    customer from one rendering, so it names none of them (not even the
    one who reported it). ``recipient`` is the one customer a message is
    written for (a credit's customer): greeted, zoned and linked as them.
    """
    # Messages the sweep sends have no request to take the address from.
    base_url = base_url or settings.PORTAL_BASE_URL.rstrip("/")
    target = policy_target_for(incident)
    policy = target.policy if target else incident.policy
    zone = zoneinfo.ZoneInfo(
        (recipient.time_zone or policy.calendar.time_zone)
        if audience == Audience.CUSTOMER and recipient
        else message_zone(
            incident,
            audience=audience,
            reader_zone=reader_zone,
            policy_zone=policy.calendar.time_zone,
        )
    )
    now = timezone.now()
    sla_state = CLOCK_STATE_LABELS[overall_clock_state(incident_clocks(incident, now))]
    cadences = {
        name: update_cadence(target, name)
        for name in (Audience.INTERNAL, Audience.CUSTOMER, Audience.PARTNER)
    }
    cadence_for_reader = update_cadence(target, audience) if audience else None
    customer = incident.customer
    if audience == Audience.CUSTOMER:
        customer = recipient or (None if incident.is_systemic else customer)
    owner = incident.owner
    team = incident.policy.signing_team
    if owner:
        owner_name = owner.get_full_name() or owner.get_username()
    elif audience in EXTERNAL_AUDIENCES:
        owner_name = _team_phrase(team)
    else:
        owner_name = "Unassigned"
    context = {
        "incident": {
            "reference": incident.reference,
            "title": incident.title,
            "priority": incident.priority,
            "severity": incident.get_priority_display().split()[-1],
            "status": incident.get_status_display(),
            "category": incident.category.name,
            "signal": incident.signal.code if incident.signal_id else "REPORTED",
            "what_happened": incident.what_happened,
            "customer_summary": incident.customer_summary,
            "fix": incident.fix_summary,
            "service_status": incident.get_service_status_display(),
            "impact_started_at": _when(incident.impact_started_at, zone),
            "impact_duration": _duration(
                incident.impact_started_at or incident.detected_at, now
            ),
            "root_cause": incident.root_cause or "Under investigation",
            "contact_count": incident.customer_contact_count,
            "sentiment": incident.get_sentiment_display(),
            "is_systemic": incident.is_systemic,
            "affected_count": _affected_count(incident),
            "opened_at": _when(incident.created_at, zone),
            "resolved_at": _when(incident.resolved_at, zone),
            "url": f"{base_url}{incident.get_absolute_url()}",
            "commander": (
                incident.commander.get_full_name() or incident.commander.get_username()
            )
            if incident.commander_id
            else "",
            "war_room": incident.war_room_url,
            "tags": list(incident.tags),
            "amount_paid": f"${incident.amount_paid}"
            if incident.amount_paid is not None
            else "",
            "partner_action": incident.partner_action_details,
            "vendor_action": incident.vendor_action_details,
            "engineering_action": incident.engineering_action_details,
            "needs_outside_help": incident.is_partner_action_needed
            or incident.is_vendor_action_needed
            or incident.status
            in (Incident.Status.WAITING_PARTNER, Incident.Status.WAITING_VENDOR),
        },
        "sla": {
            "first_response_due": _when(incident.first_response_due_at, zone),
            "resolution_due": _when(incident.resolution_due_at, zone),
            "state": sla_state,
        },
        "cadence": {name: every(value) for name, value in cadences.items()},
        "customer": {
            "name": customer.name if customer else "",
            "first_name": _greeting_name(customer),
            "contact_name": customer.contact_name if customer else "",
            "email": customer.email if customer else "",
            "account_id": customer.account_id if customer else "",
            "segment": customer.get_segment_display() if customer else "",
            "is_vip": customer.is_vip if customer else False,
            **customer_record(customer, today=now.astimezone(zone).date()),
        },
        "owner": {"name": owner_name, "email": owner.email if owner else ""},
        "sender": {
            "name": sender_name or _capitalised(_team_phrase(team)),
            "is_person": bool(sender_name),
        },
        "party": {
            "name": party.name if party else "",
            "account_ref": party.account_ref if party else "",
            "ack_hours": party.ack_hours if party else "",
            **(party_record(incident, party, zone) if party else NO_PARTY_RECORD),
        },
        "follow_up_number": follow_up_number,
        "next_update_at": _when(
            now + cadence_for_reader if cadence_for_reader else None, zone
        ),
        "next_customer_update_at": _when(
            now + cadences[Audience.CUSTOMER] if cadences[Audience.CUSTOMER] else None,
            zone,
        ),
        "support": {"team": team},
        "survey": {"url": _survey_url(incident, audience, base_url, customer)},
        "metrics": _key_metrics(incident, now),
        # Only the words the customer may read: the caller passes the kind,
        # amount and days, never the request's internal reason or evidence.
        "credit": {key: str((credit or {}).get(key, "")) for key in NO_CREDIT},
        "escalation": {
            key: str((escalation or {}).get(key, "")) for key in NO_ESCALATION
        },
        "security": {key: str((security or {}).get(key, "")) for key in NO_SECURITY},
        # Read for the public's readers only: the sweep renders many an
        # internal or partner follow-up that never links the page.
        "status_page": {
            "url": status_page_url(incident, base_url)
            if audience in (Audience.CUSTOMER, None)
            else ""
        },
        "auto_close": {
            "after_check_in": span_words(policy.close_after_check_in_minutes),
            "waiting_for": span_words(policy.close_pending_after_minutes),
        },
    }
    if audience == Audience.CUSTOMER:
        return _without_internal(context)
    return context


def status_page_url(incident: Incident, base_url: str) -> str:
    """The public page where this incident's posts are, or ''.

    A page on a host of its own is linked there; any other is linked under
    the address the public reaches (STATUSPAGE_BASE_URL, else the portal's).
    """
    shown = (
        incident.publications.filter(starts_at__isnull=False, page__is_live=True)
        .select_related("page")
        .order_by("page__name")
        .first()
    )
    if shown is None:
        return ""
    if shown.page.host:
        return f"https://{shown.page.host}/"
    public = (settings.STATUSPAGE_BASE_URL or base_url).rstrip("/")
    return f"{public}/status/{shown.page.slug}/"


def _key_metrics(incident: Incident, now: dt.datetime) -> dict[str, str]:
    figures = incident_key_metrics(incident, now)
    met = figures["sla_met"]
    return {
        "time_to_detect": span(figures["time_to_detect"]),
        "time_to_first_response": span(figures["time_to_first_response"]),
        "time_to_resolution": span(figures["time_to_resolution"]),
        "sla_met": "still running" if met is None else ("Yes" if met else "No"),
    }


def _survey_url(
    incident: Incident, audience: str | None, base_url: str, customer: Customer | None
) -> str:
    """The customer's signed survey link; empty where no single customer reads.

    A systemic message renders once for many customers, and a link there
    could only be answered once for all of them, so it carries none (the
    caller passes no customer then, even when one reported the incident).
    """
    if audience != Audience.CUSTOMER or customer is None:
        return ""
    path = survey_path(incident_id=incident.pk, customer_id=customer.pk)
    return f"{settings.SURVEY_BASE_URL or base_url}{path}"


def reader_context(request, incident: Incident, **kwargs) -> dict[str, Any]:
    """Return the context for ``incident`` as the signed-in person reads it."""
    return incident_context(
        incident,
        reader_zone=request.session.get(SESSION_TIME_ZONE_KEY) or "UTC",
        sender_name=request.user.get_full_name() or request.user.get_username(),
        base_url=request.build_absolute_uri("/")[:-1],
        **kwargs,
    )


def sample_context() -> dict[str, Any]:
    """Return a context with every catalogue variable, for save-time checks."""
    return {
        "incident": {
            "reference": "INC-00042",
            "title": "eSIM stuck in provisioning",
            "priority": "P2",
            "severity": "High",
            "status": "Investigating",
            "category": "eSIM",
            "signal": "SIG-002",
            "what_happened": "The eSIM profile never finished provisioning.",
            "customer_summary": "Your new eSIM has not finished setting up, so "
            "your phone has no service yet.",
            "fix": "We issued a fresh eSIM profile and activated it.",
            "service_status": "Pending activation",
            "impact_started_at": "Mon 23 Nov 2026, 09:10 UTC",
            "impact_duration": "5 hours",
            "root_cause": "Under investigation",
            "contact_count": 2,
            "sentiment": "Frustrated",
            "is_systemic": False,
            "affected_count": 1,
            "opened_at": "Mon 23 Nov 2026, 09:30 UTC",
            "resolved_at": "",
            "url": "https://switchboard.example/incidents/42/",
            "commander": "Morgan Manager",
            "war_room": "https://meet.example.com/inc-42",
            "tags": ["incident", "severity_high", "esim"],
            "amount_paid": "$45.00",
            "partner_action": "Re-push the eSIM profile.",
            "vendor_action": "",
            "engineering_action": "",
            "needs_outside_help": True,
        },
        "sla": {
            "first_response_due": "Mon 23 Nov 2026, 11:30 UTC",
            "resolution_due": "Tue 24 Nov 2026, 09:30 UTC",
            "state": "Running",
        },
        "cadence": {
            "internal": "every 8 hours",
            "customer": "every 12 hours",
            "partner": "every 8 hours",
        },
        "customer": {
            "name": "Priya Raman",
            "first_name": "Priya",
            "contact_name": "Priya Raman",
            "contact_title": "Operations Lead",
            "company": "Raman Logistics",
            "phone": "+1 555 123 4567",
            "account_status": "Active",
            "old_carrier_account": "••••••7781",
            "package": "Enterprise",
            "annual_value": "100,000.00 USD",
            "relationship": "customer for 3 years, healthy",
            "success_manager": "Jane Doe",
            "renewal_on": "1 Mar 2027",
            "email": "priya@example.com",
            "account_id": "ACC-1001",
            "segment": "Enterprise",
            "is_vip": True,
        },
        "owner": {"name": "Alex Agent", "email": "alex@example.com"},
        "sender": {"name": "Alex Agent", "is_person": True},
        "party": {
            "name": "ConnectX",
            "account_ref": "CX-7781",
            "ack_hours": 4,
            "ticket_id": "CX-TKT-55120",
            "follow_ups_sent": "2",
            "follow_up_dates": "Mon 23 Nov, 09:30; Mon 23 Nov, 13:30",
            "replies": "1",
            "last_reply": "Mon 23 Nov, 11:02: We are looking into it.",
        },
        "follow_up_number": 2,
        "next_update_at": "Mon 23 Nov 2026, 21:30 UTC",
        "next_customer_update_at": "Mon 23 Nov 2026, 21:30 UTC",
        "support": {"team": "Support"},
        "survey": {"url": "https://support.example.com/survey/abc/"},
        "metrics": {
            "time_to_detect": "25 min",
            "time_to_first_response": "18 min",
            "time_to_resolution": "3 h 40 min",
            "sla_met": "Yes",
        },
        "credit": {
            "kind": "a service credit",
            "amount": "250.00 USD",
            "extension_days": "",
        },
        "escalation": {
            "tier": "Tier 2",
            "raised_by": "Alex Agent",
            "approved_by": "Morgan Manager",
            "summary": "Port-in keeps failing for the customer.",
            "tried": "Resubmitted the port → rejected again.",
            "promise": "24 hours",
            "why": "The customer's whole fleet is off the road since 06:00.",
            "risk": "Deliveries missed all day; the contract's penalty applies.",
        },
        "security": {
            "found": SECURITY_FOUND["data_breach"],
            "steps_taken": "- We disabled the accounts involved.\n"
            "- We replaced the keys and passwords that were exposed.",
        },
        "auto_close": {"after_check_in": "3 days", "waiting_for": "7 days"},
        "status_page": {"url": "https://status.example.com/"},
    }


def sample_contexts() -> list[dict[str, Any]]:
    """Return sample contexts covering the branches templates usually take.

    Every priority, a systemic incident without a customer, and one with the
    optional fields empty: a template that only misbehaves on a P1 is caught
    when it is saved, not when an agent composes.
    """
    import copy

    severities = {"P1": "Critical", "P2": "High", "P3": "Medium", "P4": "Low"}
    contexts = []
    for priority, severity in severities.items():
        context = sample_context()
        context["incident"].update(priority=priority, severity=severity)
        contexts.append(context)
    systemic = sample_context()
    systemic["incident"].update(is_systemic=True, affected_count=250)
    systemic["customer"] = {
        "name": "",
        "first_name": "there",
        "contact_name": "",
        **dict.fromkeys(CUSTOMER_RECORD_FIELDS, ""),
        "email": "",
        "account_id": "",
        "segment": "",
        "is_vip": False,
    }
    contexts.append(systemic)
    sparse = copy.deepcopy(sample_context())
    for key in (
        "impact_started_at",
        "resolved_at",
        "amount_paid",
        "partner_action",
        "vendor_action",
        "engineering_action",
        "commander",
        "war_room",
    ):
        sparse["incident"][key] = ""
    sparse["incident"]["tags"] = []
    sparse["incident"]["customer_summary"] = ""
    sparse["incident"]["fix"] = ""
    sparse["cadence"] = {"internal": "", "customer": "", "partner": ""}
    sparse["next_update_at"] = ""
    sparse["next_customer_update_at"] = ""
    sparse["status_page"] = {"url": ""}
    sparse["party"] = {
        "name": "",
        "account_ref": "",
        "ack_hours": "",
        **NO_PARTY_RECORD,
    }
    sparse["credit"] = dict(NO_CREDIT)
    sparse["escalation"] = dict(NO_ESCALATION)
    sparse["security"] = dict(NO_SECURITY)
    extension = sample_context()
    extension["credit"] = {
        "kind": "a plan extension",
        "amount": "30.00 USD",
        "extension_days": "30",
    }
    contexts.append(extension)
    contexts.append(sparse)
    return contexts
