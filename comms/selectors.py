"""Reads that the composer, the approval queue and the scheduler share."""

import datetime as dt

from django.db.models import Count, F, Max, Q, QuerySet
from django.db.models.functions import Coalesce
from django_q.models import Schedule

from incidents.models import AffectedCustomer, Incident, PolicyTarget

from . import sweep_memo
from .models import (
    Audience,
    Channel,
    ChatRoute,
    DeliveryRule,
    ExternalParty,
    FollowUpLoop,
    FollowUpSlot,
    InboundMail,
    Message,
    MessageTemplate,
    Reply,
    SignalReceipt,
    Situation,
    Stage,
    SweepHeartbeat,
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

    def most_specific():
        candidates = matching_templates(
            stage=stage,
            audience=audience,
            incident=incident,
            channel=channel,
            follow_up_number=follow_up_number,
            situation=situation,
        )
        chosen = min(candidates, key=lambda t: _specificity(t, situation), default=None)
        if chosen is not None:
            # Senders read the version's template: it is this one.
            chosen.current_version.template = chosen
        return chosen

    # Only what matching_templates reads of the incident is in the key.
    key = (
        "template_for",
        stage,
        audience,
        incident.priority,
        incident.category_id,
        channel,
        follow_up_number,
        situation,
    )
    return sweep_memo.recall(key, most_specific)


def chat_route_for(incident: Incident) -> ChatRoute | None:
    """Return the most specific chat route for the incident (000 2B)."""
    return sweep_memo.recall(
        (
            "chat_route_for",
            incident.priority,
            incident.is_systemic,
            incident.category_id,
        ),
        lambda: _most_specific_chat_route(incident),
    )


def _most_specific_chat_route(incident: Incident) -> ChatRoute | None:
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
        return customer_addresses(incident)
    if audience in (Audience.PARTNER, Audience.VENDOR) and party:
        if stage == Stage.ESCALATION and party.escalation_email:
            return [party.escalation_email]
        return [party.support_email]
    return []


def customer_addresses(incident: Incident) -> list[str]:
    """Return every customer an incident's customer messages go to.

    A systemic incident reaches each affected customer; each gets an e-mail
    of their own.
    """
    addresses = [incident.customer.email] if incident.customer_id else []
    if incident.is_systemic:
        addresses += AffectedCustomer.objects.filter(incident=incident).values_list(
            "customer__email", flat=True
        )
    seen = set()
    return [a for a in addresses if not (a.lower() in seen or seen.add(a.lower()))]


def delivery_mode(incident: Incident, *, audience: str) -> str:
    """Return how a message to ``audience`` leaves: automatic, draft, approval."""
    if audience == Audience.INTERNAL:
        return DeliveryRule.Mode.AUTOMATIC
    return sweep_memo.recall(
        ("delivery_mode", audience, incident.priority, incident.is_systemic),
        lambda: _strictest_delivery_mode(incident, audience=audience),
    )


def _strictest_delivery_mode(incident: Incident, *, audience: str) -> str:
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
STAGE_ORDER = list(Stage.values)
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


def message_situation(incident: Incident, *, audience: str, stage: str) -> str:
    """Return the situation a message of ``stage`` should be written for.

    000 part 5B: "we found it first" only when a signal found it and the
    customer never had to contact us; an apology after two contacts or
    more; "service restored" for a systemic outage. Part 6: closing words
    follow how the incident ended.
    """
    customer_contacted = incident.customer_contact_count > 0
    found_first = bool(incident.signal_id) and not customer_contacted
    if stage == Stage.CREATION and audience == Audience.CUSTOMER and found_first:
        return Situation.PROACTIVE
    if stage == Stage.RESOLUTION:
        if audience == Audience.INTERNAL:
            return Situation.SYSTEMIC if incident.is_systemic else ""
        if audience == Audience.CUSTOMER:
            if incident.is_systemic:
                return Situation.OUTAGE_RESTORED
            if incident.customer_contact_count >= 2:
                return Situation.MULTIPLE_CONTACTS
            if found_first:
                return Situation.PROACTIVE
    if stage in (Stage.CLOSURE, Stage.AUTO_CLOSE) and audience == Audience.CUSTOMER:
        if incident.status == Incident.Status.CLOSED_PENDING:
            return Situation.WAITING_ON_CUSTOMER
        if Reply.objects.filter(incident=incident, kind=Reply.Kind.CONFIRMED).exists():
            return Situation.CUSTOMER_CONFIRMED
        return Situation.RESOLVED_NO_REPLY
    return ""


def closing_stage(situation: str) -> str:
    """Return the stage of a closing message: thanks, or a closing notice."""
    return (
        Stage.CLOSURE
        if situation == Situation.CUSTOMER_CONFIRMED
        else (Stage.AUTO_CLOSE)
    )


def sent_counts(incident: Incident) -> dict[tuple[str, str], int]:
    """Return how many live messages each (audience, stage) has had."""
    return {
        (audience, stage): count
        for audience, stage, count in (
            Message.objects.filter(incident=incident, status__in=LIVE_MESSAGE_STATUSES)
            .order_by()
            .values_list("audience", "stage")
            .annotate(n=Count("id"))
        )
    }


def suggested_messages(incident: Incident) -> list[dict]:
    """Return the message each involved audience is due next, with its template.

    The stage follows the incident: nothing sent yet is creation, then
    follow-ups numbered by what was already sent, resolution once resolved,
    closure once closed. The situation follows how it came about (see
    ``message_situation``).
    """
    sent = sent_counts(incident)
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
        situation = message_situation(incident, audience=audience, stage=stage)
        if stage == Stage.CLOSURE and audience == Audience.CUSTOMER:
            stage = closing_stage(situation)
        channel = DEFAULT_CHANNEL[audience]
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


def templates_for_incident(incident: Incident) -> list[MessageTemplate]:
    """Return every active template that fits the incident, for the composer.

    Only the audiences the incident involves; templates narrowed to another
    priority or category are left out. Ordered by audience, stage and
    situation so the composer can group them.
    """
    audiences = involved_audiences(incident)
    templates = MessageTemplate.objects.filter(
        Q(priority="") | Q(priority=incident.priority),
        Q(category__isnull=True) | Q(category_id=incident.category_id),
        audience__in=audiences,
        is_active=True,
        current_version__isnull=False,
    ).only(
        "pk",
        "key",
        "name",
        "description",
        "audience",
        "channel",
        "stage",
        "situation",
        "follow_up_from",
        "follow_up_to",
    )
    return sorted(
        templates,
        key=lambda t: (
            audiences.index(t.audience),
            STAGE_ORDER.index(t.stage),
            t.situation,
            t.follow_up_from or 0,
            t.name,
        ),
    )


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


def approvals_waiting_count() -> int:
    """Return how many messages wait for a manager (the navigation badge)."""
    return Message.objects.filter(status="awaiting_approval").count()


def recently_decided() -> QuerySet:
    """Return messages a manager approved or rejected, newest decision first."""
    return (
        Message.objects.filter(decided_at__isnull=False)
        .select_related("incident", "created_by", "decided_by")
        .order_by("-decided_at", "-id")
    )


CADENCE_FIELD = {
    Audience.INTERNAL: "internal_update_minutes",
    Audience.CUSTOMER: "customer_update_minutes",
    Audience.PARTNER: "partner_update_minutes",
    Audience.VENDOR: "partner_update_minutes",
}


def policy_target_for(incident: Incident) -> PolicyTarget | None:
    """Return what the incident's policy promises at its priority."""
    return sweep_memo.recall(
        ("policy_target_for", incident.policy_id, incident.priority),
        lambda: (
            PolicyTarget.objects.select_related("policy__calendar")
            .filter(policy_id=incident.policy_id, priority=incident.priority)
            .first()
        ),
    )


def update_cadence(target: PolicyTarget | None, audience: str) -> dt.timedelta | None:
    """Return how often ``audience`` hears about an incident, or None if as needed."""
    minutes = getattr(target, CADENCE_FIELD[audience]) if target else None
    return dt.timedelta(minutes=minutes) if minutes else None


def next_update_due(incident: Incident, *, audience: str, now) -> dt.datetime | None:
    """Return when ``audience`` is next due an update under the incident's policy."""
    cadence = update_cadence(policy_target_for(incident), audience)
    return now + cadence if cadence else None


def updates_due(incidents: list[Incident], *, now) -> list[dict]:
    """Return when each incident's customer and team are next owed an update.

    An update is due one cadence after the last message that audience got
    (or after the incident opened, if none). Two queries, however many
    incidents.
    """
    if not incidents:
        return []
    last_sent = {
        (incident_id, audience): sent_at
        for incident_id, audience, sent_at in Message.objects.filter(
            incident__in=incidents,
            status__in=LIVE_MESSAGE_STATUSES,
            audience__in=[Audience.INTERNAL, Audience.CUSTOMER],
        )
        .order_by()
        .values_list("incident_id", "audience")
        .annotate(
            last=Max(Coalesce("sent_at", "queued_at", "send_after", "created_at"))
        )
    }
    targets = {
        (t.policy_id, t.priority): t
        for t in PolicyTarget.objects.filter(
            policy_id__in={i.policy_id for i in incidents},
            priority__in={i.priority for i in incidents},
        )
    }
    due = []
    for incident in incidents:
        target = targets.get((incident.policy_id, incident.priority))
        for audience in (Audience.INTERNAL, Audience.CUSTOMER):
            if audience == Audience.CUSTOMER and not (
                incident.customer_id or incident.is_systemic
            ):
                continue
            cadence = update_cadence(target, audience)
            if cadence is None:
                continue
            since = last_sent.get((incident.pk, audience)) or incident.created_at
            due_at = since + cadence
            due.append(
                {
                    "incident": incident,
                    "audience": Audience(audience).label,
                    "due_at": due_at,
                    "is_overdue": due_at <= now,
                }
            )
    return sorted(due, key=lambda row: row["due_at"])


def messages_needing(user) -> QuerySet:
    """Return someone's drafts and rejected messages, to finish or rework."""
    return (
        Message.objects.filter(
            created_by=user,
            status__in=[Message.Status.DRAFT, Message.Status.REJECTED],
        )
        .select_related("incident")
        .order_by("-created_at", "-id")
    )


def failed_deliveries(*, owner=None) -> QuerySet:
    """Return messages that could not be delivered, newest first."""
    failed = Message.objects.filter(status=Message.Status.FAILED)
    if owner is not None:
        failed = failed.filter(Q(incident__owner=owner) | Q(created_by=owner))
    return failed.select_related("incident").order_by("-created_at", "-id")


# --- Automation (issue 14): follow-up loops, inbound mail, operations ---

PARTY_AUDIENCES = (Audience.PARTNER, Audience.VENDOR)


def silent_party_loops(*, after_follow_ups: int = 2) -> QuerySet:
    """Return running partner and vendor loops unanswered after N follow-ups.

    For the escalation rules ("partner silent after 2 follow-ups", 000
    part 7): each row's ``unanswered_count`` and ``last_sent_at`` say how
    long the party has been silent; a reply sets the count back to zero.
    The escalation side keeps its own record of what it already did.
    """
    return (
        FollowUpLoop.objects.filter(
            stopped_at__isnull=True,
            audience__in=PARTY_AUDIENCES,
            unanswered_count__gte=after_follow_ups,
        )
        .select_related("incident", "party")
        .order_by("last_sent_at", "id")
    )


def incident_loops(incident: Incident) -> QuerySet:
    """Return an incident's follow-up loops, running first."""
    return (
        FollowUpLoop.objects.filter(incident=incident)
        .select_related("party")
        .order_by(F("stopped_at").desc(nulls_first=True), "audience", "id")
    )


def unmatched_mail() -> QuerySet:
    """Return e-mail that found no incident, newest first, for triage."""
    return InboundMail.objects.filter(status=InboundMail.Status.UNMATCHED).order_by(
        "-received_at", "-id"
    )


def unmatched_mail_count() -> int:
    return InboundMail.objects.filter(status=InboundMail.Status.UNMATCHED).count()


def signal_queue_counts() -> dict[str, int]:
    """Signals waiting for the cluster and signals it could not apply (to 1,001)."""
    receipts = SignalReceipt.objects.order_by()
    return {
        "waiting": receipts.filter(status=SignalReceipt.Status.QUEUED)[:1001].count(),
        "failed": receipts.filter(status=SignalReceipt.Status.FAILED)[:1001].count(),
    }


OVERDUE_GRACE = dt.timedelta(minutes=2)


def follow_ups_due_between(start, end) -> QuerySet:
    """Return running loops whose next follow-up falls in [start, end)."""
    return (
        FollowUpLoop.objects.filter(
            stopped_at__isnull=True, next_due_at__gte=start, next_due_at__lt=end
        )
        .select_related("incident", "party")
        .order_by("next_due_at", "id")
    )


def overdue_follow_ups(now) -> QuerySet:
    """Return running loops still unfired past their due time (and a grace)."""
    return (
        FollowUpLoop.objects.filter(
            stopped_at__isnull=True, next_due_at__lt=now - OVERDUE_GRACE
        )
        .select_related("incident", "party")
        .order_by("next_due_at", "id")
    )


def failed_follow_ups() -> QuerySet:
    """Return follow-up slots that produced no message, newest first."""
    return (
        FollowUpSlot.objects.filter(message__isnull=True)
        .select_related("loop__incident", "loop__party")
        .order_by("-fired_at", "-id")
    )


def last_sweep() -> SweepHeartbeat | None:
    return SweepHeartbeat.objects.filter(pk=1).first()


def sweep_schedules() -> list:
    """Return the django-q2 schedules that run the sweep (exactly one is right)."""
    return list(Schedule.objects.filter(func="portal.tasks.run_due_work"))
