"""Which templates fit an incident, which one is due next, and what has been
sent so far."""

from django.db.models import Count, Max, Q, QuerySet

from incidents.models import Incident

from .. import sweep_memo
from ..models import (
    Audience,
    Channel,
    Message,
    MessageTemplate,
    Reply,
    Situation,
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
    *, incident: Incident, situation: str = "", **criteria
) -> MessageTemplate | None:
    """Return the most specific active template for this message, or None.

    ``criteria`` are matching_templates' own: stage, audience, and optionally
    channel and follow_up_number.
    """

    def most_specific():
        candidates = matching_templates(
            incident=incident, situation=situation, **criteria
        )
        chosen = min(candidates, key=lambda t: _specificity(t, situation), default=None)
        if chosen is not None:
            # Senders read the version's template: it is this one.
            chosen.current_version.template = chosen
        return chosen

    # Only what matching_templates reads of the incident is in the key.
    key = (
        "template_for",
        incident.priority,
        incident.category_id,
        situation,
        *sorted(criteria.items()),
    )
    return sweep_memo.recall(key, most_specific)


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

    Carrier communication playbook, part 5B: "we found it first" only when a
    signal found it and the customer never had to contact us; an apology
    after two contacts or more; "service restored" for a systemic outage.
    Part 6: closing words follow how the incident ended.
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


# A message waiting for a manager is in hand: the next one is the one after.
IN_HAND_STATUSES = (*LIVE_MESSAGE_STATUSES, "awaiting_approval")


def sent_counts(
    incident: Incident, *, in_hand: dict | None = None
) -> dict[tuple[str, str], int]:
    """Return how many messages each (audience, stage) has had or has in hand
    (from ``in_hand``, when the page already read it)."""
    if in_hand is None:
        in_hand = messages_in_hand(incident)
    return {key: count for key, (count, _) in in_hand.items()}


def messages_in_hand(incident: Incident) -> dict[tuple[str, str], tuple[int, object]]:
    """(audience, stage) → (how many sent or in hand, the latest one's time)."""
    return {
        (audience, stage): (count, latest)
        for audience, stage, count, latest in (
            Message.objects.filter(incident=incident, status__in=IN_HAND_STATUSES)
            .order_by()
            .values_list("audience", "stage")
            .annotate(n=Count("id"), latest=Max("created_at"))
        )
    }


def suggested_messages(
    incident: Incident, *, in_hand: dict | None = None
) -> list[dict]:
    """Return the message each involved audience is due next, with its template.

    The stage follows the incident: nothing sent yet is creation, then
    follow-ups numbered by what was already sent, resolution once resolved,
    closure once closed. The situation follows how it came about (see
    ``message_situation``). ``in_hand``: what ``messages_in_hand`` gave,
    when the page already read it.
    """
    if in_hand is None:
        in_hand = messages_in_hand(incident)
    sent = {key: count for key, (count, _) in in_hand.items()}

    def told_since(audience, stages, moment) -> bool:
        return any(
            in_hand.get((audience, stage), (0, None))[1] is not None
            and (moment is None or in_hand[(audience, stage)][1] >= moment)
            for stage in stages
        )

    suggestions = []
    for audience in involved_audiences(incident):
        follow_up_number = None
        if incident.status in Incident.CLOSED_STATUSES:
            stage = Stage.CLOSURE
            if told_since(
                audience, (Stage.CLOSURE, Stage.AUTO_CLOSE), incident.closed_at
            ):
                continue  # told of this closing already (or it waits to go)
        elif incident.status == Incident.Status.RESOLVED:
            stage = Stage.RESOLUTION
            if told_since(audience, (Stage.RESOLUTION,), incident.resolved_at):
                continue
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
