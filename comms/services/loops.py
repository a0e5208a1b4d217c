"""Follow-up loops: who is owed the next update, and firing it exactly once.

Incidents cannot call comms, so loops follow the incident's state lazily:
every sweep (``due_work``) opens the loops an incident now needs, re-times
those whose priority or policy changed, and stops those whose incident was
resolved or closed, before firing what is due. A sweep runs every minute,
and a loop's first follow-up is counted from the incident's opening (or
the party's first message), so the lag costs no timing.

Exactly once: a due loop is claimed with ``SELECT … FOR UPDATE SKIP LOCKED``
(a second sweep passes over it), and each follow-up is a ``FollowUpSlot``
row unique on (loop, number), written in the same transaction as the
message. A worker that dies before the commit leaves nothing behind, so the
next sweep fires the slot; after the commit the message is queued and the
message sweep delivers it even if the enqueued task was lost.
"""

import datetime as dt
import logging

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, Min, OuterRef, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from incidents import lifecycle
from incidents import services as incident_services
from incidents.models import Incident, PolicyTarget, TimelineEvent
from portal.bulk import insert_rows

from .. import catalogue, rendering, selectors, sweep_memo
from ..models import (
    Audience,
    ExternalParty,
    FollowUpLoop,
    FollowUpSlot,
    Message,
    Stage,
    SweepHeartbeat,
)
from . import delivery, messages

logger = logging.getLogger(__name__)

# Loops run while the incident is being worked; resolution has its own
# messages, and silence after it is the auto-close rules' business.
LOOP_STATUSES = tuple(lifecycle.runs_while("follow_ups"))
PARTY_AUDIENCES = (Audience.PARTNER, Audience.VENDOR)
PARTY_FLAG = {
    Audience.PARTNER: "is_partner_action_needed",
    Audience.VENDOR: "is_vendor_action_needed",
}
# A sweep fires at most this many follow-ups; the rest wait a minute.
FIRE_BATCH = 10_000
# Loops claimed per query and per transaction: large enough that claiming
# costs little per follow-up, small enough that a chunk's locks and its
# queued deliveries are not held back long.
CLAIM_CHUNK = 200


def _cadence_minutes(target: PolicyTarget | None, audience: str) -> int | None:
    return getattr(target, selectors.CADENCE_FIELD[audience]) if target else None


def _targets_for(incidents) -> dict[tuple[int, str], PolicyTarget]:
    incidents = list(incidents)
    return {
        (t.policy_id, t.priority): t
        for t in PolicyTarget.objects.filter(
            policy_id__in={i.policy_id for i in incidents},
            priority__in={i.priority for i in incidents},
        )
    }


def _due_from(anchor: dt.datetime, minutes: int | None) -> dt.datetime | None:
    return anchor + dt.timedelta(minutes=minutes) if minutes else None


def _loop_event(loop: FollowUpLoop, change: str, at: dt.datetime, actor=None, **more):
    incident_services.record_timeline_event(
        incident=loop.incident,
        kind=TimelineEvent.Kind.FOLLOW_UP_LOOP_CHANGED,
        actor=actor,
        at=at,
        details={
            "change": change,
            "loop": loop.pk,
            "audience": loop.audience,
            "party": loop.party.name if loop.party_id else "",
            "cadence_minutes": loop.cadence_minutes,
            "next_due_at": loop.next_due_at.isoformat() if loop.next_due_at else None,
            **more,
        },
    )


def _party_first_contact(incident_ids=None) -> dict[tuple[int, str, int], dt.datetime]:
    """Return when each (incident, audience, party) first got a live message."""
    rows = Message.objects.filter(
        audience__in=PARTY_AUDIENCES,
        party__isnull=False,
        status__in=selectors.LIVE_MESSAGE_STATUSES,
        incident__status__in=LOOP_STATUSES,
    )
    if incident_ids is not None:
        rows = rows.filter(incident_id__in=incident_ids)
    return {
        (incident_id, audience, party_id): first
        for incident_id, audience, party_id, first in rows.order_by()
        .values_list("incident_id", "audience", "party_id")
        .annotate(
            first=Min(Coalesce("sent_at", "queued_at", "send_after", "created_at"))
        )
    }


def open_missing_loops(now: dt.datetime) -> int:
    """Open the loops running incidents need and do not have yet.

    Internal always; customer when the incident has a customer (or is
    systemic); partner and vendor for each party the incident has written
    to while that dependency is flagged. A loop stopped by a close comes
    back when the incident is reopened.
    """
    running = Incident.objects.filter(status__in=LOOP_STATUSES)
    wanted: list[tuple[Incident, str, int | None, dt.datetime]] = []
    for audience in (Audience.INTERNAL, Audience.CUSTOMER):
        candidates = running.exclude(
            Exists(
                FollowUpLoop.objects.filter(
                    incident=OuterRef("pk"), audience=audience, party__isnull=True
                )
            )
        )
        if audience == Audience.CUSTOMER:
            candidates = candidates.filter(
                Q(customer__isnull=False) | Q(is_systemic=True)
            )
        wanted += [
            (incident, audience, None, incident.created_at)
            for incident in candidates.only("pk", "policy_id", "priority", "created_at")
        ]
    contacts = _party_first_contact()
    if contacts:
        existing = set(
            FollowUpLoop.objects.filter(
                incident_id__in={key[0] for key in contacts}, party__isnull=False
            ).values_list("incident_id", "audience", "party_id")
        )
        missing = {k: v for k, v in contacts.items() if k not in existing}
        flagged = Incident.objects.filter(pk__in={k[0] for k in missing}).only(
            "pk", "policy_id", "priority", "created_at", *PARTY_FLAG.values()
        )
        by_pk = {incident.pk: incident for incident in flagged}
        for (incident_id, audience, party_id), first in missing.items():
            incident = by_pk[incident_id]
            if getattr(incident, PARTY_FLAG[audience]):
                wanted.append((incident, audience, party_id, first))
    targets = _targets_for(w[0] for w in wanted)
    loops = []
    for incident, audience, party_id, anchor in wanted:
        minutes = _cadence_minutes(
            targets.get((incident.policy_id, incident.priority)), audience
        )
        loops.append(
            FollowUpLoop(
                incident=incident,
                audience=audience,
                party_id=party_id,
                priority=incident.priority,
                policy_id=incident.policy_id,
                cadence_minutes=minutes,
                started_at=anchor,
                next_due_at=_due_from(anchor, minutes),
            )
        )
    opened = 0
    for start in range(0, len(loops), LOOPS_OPENED_TOGETHER):
        opened += _open(loops[start : start + LOOPS_OPENED_TOGETHER], now)
    return opened + _restart_reopened(now)


# Loops one statement opens: after a bulk load (the demo at 100,000
# incidents, or an import) the first sweep opens thousands.
LOOPS_OPENED_TOGETHER = 1000


def _open(loops: list[FollowUpLoop], now: dt.datetime) -> int:
    """Open ``loops`` with their timeline rows, together; one by one if
    another sweep opened one of them a moment ago."""
    try:
        with transaction.atomic(), incident_services.timeline_written_together():
            insert_rows(FollowUpLoop, loops)
            for loop in loops:
                _loop_event(loop, "opened", now)
        return len(loops)
    except IntegrityError:
        pass
    opened = 0
    for loop in loops:
        loop.pk = None
        try:
            with transaction.atomic():
                loop.save(force_insert=True)
                _loop_event(loop, "opened", now)
        except IntegrityError:
            continue  # Another sweep opened it a moment ago.
        opened += 1
    return opened


def _restart_reopened(now: dt.datetime) -> int:
    restarted = 0
    stopped = FollowUpLoop.objects.filter(
        stopped_at__isnull=False, incident__status__in=LOOP_STATUSES
    ).select_related("incident", "party")
    for loop in stopped:
        flag = PARTY_FLAG.get(loop.audience)
        if flag and not getattr(loop.incident, flag):
            continue
        with transaction.atomic():
            if not FollowUpLoop.objects.filter(
                pk=loop.pk, stopped_at__isnull=False
            ).update(
                stopped_at=None,
                stop_reason="",
                started_at=now,
                unanswered_count=0,
                next_due_at=_due_from(now, loop.cadence_minutes),
            ):
                continue
            loop.refresh_from_db()
            _loop_event(loop, "restarted", now)
            restarted += 1
    return restarted


def stop_finished_loops(now: dt.datetime) -> int:
    """Stop loops whose incident was resolved or closed, or whose dependency ended."""
    finished = FollowUpLoop.objects.filter(stopped_at__isnull=True).filter(
        ~Q(incident__status__in=LOOP_STATUSES)
        | Q(audience=Audience.PARTNER, incident__is_partner_action_needed=False)
        | Q(audience=Audience.VENDOR, incident__is_vendor_action_needed=False)
    )
    stopped = 0
    for loop in finished.select_related("incident", "party"):
        reason = (
            f"Incident {loop.incident.get_status_display().lower()}"
            if loop.incident.status not in LOOP_STATUSES
            else f"The {loop.audience} is no longer needed"
        )
        with transaction.atomic():
            if not FollowUpLoop.objects.filter(
                pk=loop.pk, stopped_at__isnull=True
            ).update(stopped_at=now, stop_reason=reason, next_due_at=None):
                continue
            loop.refresh_from_db()
            _loop_event(loop, "stopped", now, reason=reason)
            stopped += 1
    return stopped


def _kept_to_promise(minutes: int | None, promised: int | None) -> int | None:
    """A cadence no longer than what a message promised."""
    if promised is None:
        return minutes
    return promised if minutes is None else min(minutes, promised)


def retime_loops(now: dt.datetime) -> int:
    """Give loops the cadence of their incident's current priority and policy.

    The next follow-up is counted from the last one sent (or the last reply,
    or the start); if that moment has passed, it is due now.
    """
    changed = FollowUpLoop.objects.filter(stopped_at__isnull=True).filter(
        ~Q(priority=F("incident__priority")) | ~Q(policy_id=F("incident__policy_id"))
    )
    loops = list(changed.select_related("incident", "party"))
    targets = _targets_for(loop.incident for loop in loops)
    retimed = 0
    for loop in loops:
        incident = loop.incident
        minutes = _kept_to_promise(
            _cadence_minutes(
                targets.get((incident.policy_id, incident.priority)), loop.audience
            ),
            loop.promised_minutes,
        )
        anchor = max(
            moment
            for moment in (loop.started_at, loop.last_sent_at, loop.last_reply_at)
            if moment is not None
        )
        next_due = _due_from(anchor, minutes)
        if next_due is not None:
            next_due = max(next_due, now)
        before = (loop.priority, loop.cadence_minutes)
        with transaction.atomic():
            if not FollowUpLoop.objects.filter(
                pk=loop.pk, priority=loop.priority, policy_id=loop.policy_id
            ).update(
                priority=incident.priority,
                policy_id=incident.policy_id,
                cadence_minutes=minutes,
                next_due_at=next_due,
            ):
                continue
            loop.refresh_from_db()
            _loop_event(
                loop,
                "retimed",
                now,
                priority=[before[0], incident.priority],
                cadence=[before[1], minutes],
            )
            retimed += 1
    return retimed


def _message_fields(loop: FollowUpLoop, number: int) -> dict:
    """Render the follow-up for the loop's audience, party and number."""
    incident = loop.incident
    channel = selectors.DEFAULT_CHANNEL[loop.audience]
    situation = selectors.message_situation(
        incident, audience=loop.audience, stage=Stage.FOLLOW_UP
    )
    template = selectors.template_for(
        stage=Stage.FOLLOW_UP,
        audience=loop.audience,
        incident=incident,
        channel=channel,
        follow_up_number=number,
        situation=situation,
    )
    if template is None:
        raise ValidationError(
            f"No active {loop.audience} follow-up template fits follow-up "
            f"#{number}; an admin can add one to the library.",
            code="no_template",
        )
    version = template.current_version
    context = catalogue.incident_context(
        incident,
        audience=loop.audience,
        follow_up_number=number,
        party=loop.party,
    )
    try:
        rendered = rendering.render(version.subject, version.body, context)
    except rendering.RenderError as exc:
        raise ValidationError(
            f"Template “{template.key}” did not render: {exc}", code="render_failed"
        ) from exc
    return {
        "audience": loop.audience,
        "channel": channel,
        "stage": Stage.FOLLOW_UP,
        "situation": situation,
        "follow_up_number": number,
        "party": loop.party,
        "recipients": selectors.default_recipients(
            incident,
            audience=loop.audience,
            channel=channel,
            stage=Stage.FOLLOW_UP,
            party=loop.party,
        ),
        "subject": rendered.subject,
        "body": rendered.body,
        "send_after": None,
        "template_version": version,
    }


# A follow-up that waits for a person still uses its number; one the
# de-duplication suppressed never reached anybody.
_COUNTED = {
    Message.Status.DRAFT,
    Message.Status.AWAITING_APPROVAL,
    *selectors.LIVE_MESSAGE_STATUSES,
}


def _claim(loop_ids, now: dt.datetime) -> list[FollowUpLoop]:
    """Lock the loops among ``loop_ids`` still due, with what firing reads.

    Inside the caller's transaction: a loop another sweep holds is passed
    over (SKIP LOCKED), and one fired or stopped since is no longer due.
    """
    return list(
        FollowUpLoop.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related(
            "incident__policy__calendar",
            "incident__customer",
            "incident__category",
            "incident__signal",
            "incident__owner",
            "party",
        )
        .filter(pk__in=loop_ids, stopped_at__isnull=True, next_due_at__lte=now)
        .order_by("next_due_at", "id")
    )


# What firing changes on a loop (the loop is locked, so plain values).
_FIRED_FIELDS = (
    "slots_fired",
    "sent_count",
    "unanswered_count",
    "last_sent_at",
    "next_due_at",
)


def _fire_claimed(
    loop: FollowUpLoop, now: dt.datetime, *, deferred: list | None = None
) -> FollowUpSlot | None:
    """Fire the due follow-up of a loop this transaction holds.

    The slot is written after the message: if its number was taken
    already, the unique (loop, number) refuses it and the transaction takes
    the message back with it. With ``deferred``, the slot and the loop's
    new counts are left there for the caller to write for a whole chunk.
    """
    if loop.incident.status not in LOOP_STATUSES or not loop.cadence_minutes:
        return None  # Stopped or re-timed at the next sweep's start.
    cadence = dt.timedelta(minutes=loop.cadence_minutes)
    missed = int((now - loop.next_due_at) / cadence)
    number = loop.slots_fired + 1
    message = None
    try:
        # A refusal comes before any write, so it leaves nothing behind; any
        # other error rolls back the chunk (or this follow-up's savepoint).
        message = messages.send_message_in_open_transaction(
            incident=loop.incident,
            actor=None,
            **_message_fields(loop, loop.sent_count + 1),
        )
    except ValidationError as exc:
        outcome = "Not sent: " + " ".join(exc.messages)
    else:
        outcome = message.get_status_display()
    slot = FollowUpSlot(
        loop=loop,
        number=number,
        due_at=loop.next_due_at,
        fired_at=now,
        missed=missed,
        message=message,
        outcome=outcome,
    )
    if missed:
        incident_services.record_timeline_event(
            incident=loop.incident,
            kind=TimelineEvent.Kind.FOLLOW_UP_SLOTS_MISSED,
            actor=None,
            at=now,
            details={
                "loop": loop.pk,
                "audience": loop.audience,
                "party": loop.party.name if loop.party_id else "",
                "missed": missed,
                "due_since": loop.next_due_at.isoformat(),
                "sent_instead": number,
            },
        )
    if message is None:
        _loop_event(loop, "follow_up_failed", now, reason=outcome)
    counted = message is not None and message.status in _COUNTED
    loop.slots_fired += 1
    loop.sent_count += int(counted)
    loop.unanswered_count += int(
        message is not None and message.status in selectors.LIVE_MESSAGE_STATUSES
    )
    if counted:
        loop.last_sent_at = now
    loop.next_due_at += cadence * (missed + 1)
    if deferred is None:
        slot.save()
        FollowUpLoop.objects.filter(pk=loop.pk).update(
            **{field: getattr(loop, field) for field in _FIRED_FIELDS}
        )
    else:
        deferred.append((slot, loop))
    return slot


def _write_fired_counts(loops: list[FollowUpLoop]) -> None:
    """Write the chunk's new loop counts in one statement run per row.

    ``bulk_update`` builds a CASE per field and row, which took longer than
    the sends themselves; the driver runs this one UPDATE for every row in
    a single batch instead.
    """
    if not loops:
        return
    meta = FollowUpLoop._meta
    quote = connection.ops.quote_name
    fields = [meta.get_field(name) for name in _FIRED_FIELDS]
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    sql = (
        f"UPDATE {quote(meta.db_table)} SET {assignments} "
        f"WHERE {quote(meta.pk.column)} = %s"
    )
    rows = [
        [
            *(
                field.get_db_prep_save(getattr(loop, field.attname), connection)
                for field in fields
            ),
            loop.pk,
        ]
        for loop in loops
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def _fire_in_savepoint(loop: FollowUpLoop, now: dt.datetime) -> FollowUpSlot | None:
    """Fire one claimed loop; a failure rolls back this follow-up alone."""
    try:
        with transaction.atomic():
            return _fire_claimed(loop, now)
    except IntegrityError:
        # Its slot was fired already, under a lock this sweep did not see
        # (a retried task with a stale count): never twice. Step past it.
        FollowUpLoop.objects.filter(pk=loop.pk).update(slots_fired=F("slots_fired") + 1)
    except Exception:
        # The slot stays due and the next sweep tries again; one broken
        # loop must not hold up the rest.
        logger.exception("follow-up loop %s failed; retried next sweep", loop.pk)
    return None


def fire_follow_up(*, loop_id: int, now: dt.datetime) -> FollowUpSlot | None:
    """Fire the due follow-up of one loop, unless another sweep holds it.

    Slots missed while nothing ran are not sent one by one: one follow-up
    goes out, the timeline notes how many were missed, and the next one
    falls on the loop's regular beat after ``now``.
    """
    with transaction.atomic():
        claimed = _claim([loop_id], now)
        return _fire_in_savepoint(claimed[0], now) if claimed else None


def _fire_chunk(loop_ids: list[int], now: dt.datetime) -> int:
    """Fire a chunk of due loops in one transaction; return how many fired.

    The chunk is claimed in one query, its follow-ups are sent, and their
    slots, loop counts and timeline entries are written together at the end. If anything
    fails, the chunk is rolled back and fired again with a savepoint around
    each follow-up, so the failing one rolls back alone and stays due while
    the rest go out.
    """
    try:
        with (
            delivery.deliveries_enqueued_together(),
            transaction.atomic(),
            incident_services.timeline_written_together(),
        ):
            deferred: list[tuple[FollowUpSlot, FollowUpLoop]] = []
            for loop in _claim(loop_ids, now):
                _fire_claimed(loop, now, deferred=deferred)
            FollowUpSlot.objects.bulk_create(slot for slot, _ in deferred)
            _write_fired_counts([loop for _, loop in deferred])
            return len(deferred)
    except Exception:  # noqa: BLE001 - the careful pass below names the culprit
        logger.info("a follow-up in this chunk failed; firing it one by one")
    with delivery.deliveries_enqueued_together(), transaction.atomic():
        return sum(
            _fire_in_savepoint(loop, now) is not None for loop in _claim(loop_ids, now)
        )


def fire_due_follow_ups(now: dt.datetime) -> int:
    """Fire every follow-up due at ``now``; return how many fired.

    A sweep that dies before a chunk commits leaves that chunk due for the
    next sweep. The library's answers (templates, targets, delivery rules)
    are read once per sweep.
    """
    due = list(
        FollowUpLoop.objects.filter(stopped_at__isnull=True, next_due_at__lte=now)
        .order_by("next_due_at", "id")
        .values_list("pk", flat=True)[:FIRE_BATCH]
    )
    with sweep_memo.remembering():
        return sum(
            _fire_chunk(due[start : start + CLAIM_CHUNK], now)
            for start in range(0, len(due), CLAIM_CHUNK)
        )


def note_reply(
    *,
    incident: Incident,
    sender_kind: str,
    party: ExternalParty | None,
    received_at: dt.datetime,
    actor=None,
) -> FollowUpLoop | None:
    """Push the replying side's next follow-up one cadence past its reply.

    Carrier communication playbook, part 7: a response received means update
    and reschedule; the count of unanswered follow-ups (what "partner
    silent" reads) starts again.
    """
    loops = FollowUpLoop.objects.select_for_update(of=("self",)).filter(
        incident=incident, audience=sender_kind, stopped_at__isnull=True
    )
    if sender_kind in PARTY_AUDIENCES:
        loops = loops.filter(party=party)
    loop = loops.select_related("incident", "party").first()
    if loop is None or (loop.last_reply_at and loop.last_reply_at >= received_at):
        return loop
    now = timezone.now()
    loop.last_reply_at = received_at
    loop.unanswered_count = 0
    if loop.cadence_minutes:
        loop.next_due_at = max(_due_from(received_at, loop.cadence_minutes), now)
    loop.save(update_fields=["last_reply_at", "unanswered_count", "next_due_at"])
    _loop_event(loop, "reply", now, actor=actor, reply_at=received_at.isoformat())
    return loop


@transaction.atomic
def keep_customer_posted_within(
    *, incident: Incident, minutes: int, reason: str
) -> FollowUpLoop | None:
    """Make the customer's follow-ups come at least every ``minutes``, the
    next one too: a message just promised it. A shorter cadence stays."""
    loop = (
        FollowUpLoop.objects.select_for_update(of=("self",))
        .select_related("incident", "party")
        .filter(incident=incident, audience=Audience.CUSTOMER, stopped_at__isnull=True)
        .first()
    )
    if loop is None:
        return loop
    # Remembered, so a later re-timing (a new priority) keeps the promise.
    loop.promised_minutes = _kept_to_promise(minutes, loop.promised_minutes)
    if loop.cadence_minutes and loop.cadence_minutes <= minutes:
        loop.save(update_fields=["promised_minutes", "updated_at"])
        return loop
    now = timezone.now()
    before = loop.cadence_minutes
    loop.cadence_minutes = minutes
    promised = _due_from(now, minutes)
    loop.next_due_at = min(loop.next_due_at or promised, promised)
    loop.save(
        update_fields=[
            "cadence_minutes",
            "promised_minutes",
            "next_due_at",
            "updated_at",
        ]
    )
    _loop_event(loop, "retimed", now, cadence=[before, minutes], reason=reason)
    return loop


@transaction.atomic
def record_party_ticket(*, loop: FollowUpLoop, actor, ticket_id: str) -> FollowUpLoop:
    """Note the partner's or vendor's own ticket number for this incident, so
    every follow-up and escalation to them quotes it."""
    if not actor.has_perm("comms.send_message"):
        raise PermissionDenied("Your role cannot record a partner's ticket.")
    loop = (
        FollowUpLoop.objects.select_for_update(of=("self",))
        .select_related("incident", "party")
        .get(pk=loop.pk)
    )
    if loop.audience not in PARTY_AUDIENCES:
        raise ValidationError(
            "Only a partner's or vendor's follow-ups have their own ticket.",
            code="not_a_party",
        )
    if loop.stopped_at is not None or loop.incident.archived_at is not None:
        raise ValidationError(
            "These follow-ups have stopped; their ticket is kept as it was.",
            code="loop_stopped",
        )
    ticket_id = " ".join(ticket_id.split())
    if ticket_id == loop.their_ticket_id:
        return loop
    loop.their_ticket_id = ticket_id
    loop.save(update_fields=["their_ticket_id", "updated_at"])
    _loop_event(loop, "ticket", timezone.now(), actor=actor, ticket_id=ticket_id)
    return loop


def due_work(now: dt.datetime) -> dict[str, int]:
    """Bring loops in line with their incidents, then fire what is due."""
    return {
        "loops_stopped": stop_finished_loops(now),
        "loops_opened": open_missing_loops(now),
        "loops_retimed": retime_loops(now),
        "follow_ups_fired": fire_due_follow_ups(now),
    }


def record_sweep(*, now: dt.datetime, summary: dict) -> SweepHeartbeat:
    """Note that a sweep ran, for the operations page's liveness check."""
    heartbeat, _ = SweepHeartbeat.objects.update_or_create(
        pk=1, defaults={"last_sweep_at": now, "summary": summary}
    )
    return heartbeat
