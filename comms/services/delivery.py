"""How a cleared message leaves: released (queued, scheduled or suppressed),
handed to the task cluster, delivered, retried with a doubling delay."""

import contextlib
import datetime as dt
import time
from collections.abc import Iterator
from contextvars import ContextVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_q.tasks import async_task

from incidents import lifecycle
from incidents import services as incident_services
from incidents.models import Incident, TimelineEvent
from portal.nav_counts import forget_nav_counts

from .. import catalogue, channels, rendering, selectors
from ..models import (
    Audience,
    Channel,
    Message,
    Stage,
)
from .outbound import (
    HELD_STATUSES,
    OVER_STAGES,
    _dedup_kind,
    _duplicate_of,
    security_hold,
    stale_reason,
    suppression_reason,
)


def _event(message: Message, kind: str, actor, **details) -> None:
    incident_services.record_timeline_event(
        incident=message.incident,
        kind=kind,
        actor=actor,
        details={
            "message": message.pk,
            "audience": message.audience,
            "channel": message.channel,
            "subject": message.subject,
            # Closure evidence and metrics read what was said at which stage.
            "stage": message.stage,
            **details,
        },
    )


def _release(message: Message, actor, now: dt.datetime) -> Message:
    """Queue, schedule or suppress a message cleared to leave."""
    if _dedup_kind(message) == "proactive":
        # Two alerts racing for the same customer would both pass the
        # duplicate check; holding the incident rows (and those sharing the
        # cause, which share the allowance) makes them take turns.
        incident = message.incident
        same_cause = Q(pk=incident.pk)
        if incident.root_cause.strip():
            same_cause |= Q(root_cause__iexact=incident.root_cause.strip())
        if incident.signal_id:
            same_cause |= Q(signal_id=incident.signal_id)
        list(
            Incident.objects.select_for_update()
            .filter(same_cause)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    duplicate = _duplicate_of(message, now)
    if duplicate is not None:
        return suppress(message, suppression_reason(message, duplicate), actor)
    if message.send_after and message.send_after > now:
        message.status = Message.Status.SCHEDULED
        message.save()
        _event(
            message,
            TimelineEvent.Kind.MESSAGE_QUEUED,
            actor,
            send_after=message.send_after.isoformat(),
        )
        return message
    message.status = Message.Status.QUEUED
    message.queued_at = now
    message.next_attempt_at = now
    message.save()
    _event(message, TimelineEvent.Kind.MESSAGE_QUEUED, actor)
    _enqueue_delivery(message.pk)
    return message


def suppress(message: Message, reason: str, actor) -> Message:
    """Keep a message from leaving for a rule's reason, shown on the incident."""
    message.status = Message.Status.SUPPRESSED
    message.status_reason = reason[:300]
    message.save()
    _event(message, TimelineEvent.Kind.MESSAGE_SUPPRESSED, actor, reason=reason)
    return message


def withdraw(message: Message, reason: str, actor=None) -> Message:
    """Take back a message that has not left, saying why, on the incident."""
    forget_nav_counts()
    message.status = Message.Status.WITHDRAWN
    message.status_reason = reason[:300]
    message.next_attempt_at = None
    message.save()
    _event(message, TimelineEvent.Kind.MESSAGE_WITHDRAWN, actor, reason=reason)
    return message


def rendered_now(message: Message) -> tuple[str, str] | None:
    """Render a portal-written message from the incident as it is now.

    None when it is a person's text (or its template cannot render: the text
    written earlier then stands).
    """
    if not message.renders_on_send or message.template_version_id is None:
        return None
    version = message.template_version
    context = catalogue.incident_context(
        message.incident,
        audience=message.audience,
        follow_up_number=message.follow_up_number or 0,
        party=message.party,
    )
    try:
        rendered = rendering.render(version.subject, version.body, context)
    except rendering.RenderError:
        return None
    return " ".join(rendered.subject.split()), rendered.body


def departure_refusal(message: Message) -> str:
    """Return why a message must not leave now, judged as it leaves, or ''."""
    if message.audience == Audience.CUSTOMER and not message.override_reason:
        hold = security_hold(message.incident)
        if hold:
            return hold
    if message.renders_on_send:
        return stale_reason(message)
    return ""


# While ``deliveries_enqueued_together()`` runs, the deliveries it queues
# wait here and reach the task queue in one transaction when it ends.
_held_deliveries: ContextVar[list[int] | None] = ContextVar(
    "held_deliveries", default=None
)


def _enqueue_delivery(message_id: int) -> None:
    held = _held_deliveries.get()
    if held is not None:
        held.append(message_id)
    else:
        transaction.on_commit(lambda: _enqueue_deliveries([message_id]))


# Messages handed to one task: few enough that their sends fit well in
# the task timeout, many enough that a busy sweep writes few tasks.
DELIVERIES_PER_TASK = 10


def _enqueue_deliveries(message_ids: list[int]) -> None:
    with transaction.atomic():
        for start in range(0, len(message_ids), DELIVERIES_PER_TASK):
            group = message_ids[start : start + DELIVERIES_PER_TASK]
            if len(group) == 1:
                async_task("comms.tasks.deliver_message", group[0])
            else:
                async_task("comms.tasks.deliver_messages", group)


@contextlib.contextmanager
def deliveries_enqueued_together() -> Iterator[None]:
    """Hand the messages queued in the block to the workers together, at its end.

    One commit for a whole chunk of follow-ups, instead of one per message,
    once the block's own transaction has committed (at once if it ran
    outside a transaction). A message whose savepoint rolled back is handed
    over anyway; its task finds nothing to claim.
    """
    held: list[int] = []
    token = _held_deliveries.set(held)
    try:
        yield
    finally:
        _held_deliveries.reset(token)
    if held:
        transaction.on_commit(lambda: _enqueue_deliveries(held))


def _backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=settings.COMMS_RETRY_BASE_SECONDS * 2 ** (attempts - 1))


def deliver_message(
    *, message_id: int, deadline: float | None = None
) -> Message | None:
    """Hand one queued message to its channel, exactly once.

    The claim is a conditional UPDATE: of two workers given the same
    message, one changes the row and sends; the other changes nothing and
    stops. A failure is retried later with a doubling delay, then marked
    failed and shown on the incident.
    """
    now = timezone.now()
    claimed = (
        Message.objects.filter(
            pk=message_id,
            status=Message.Status.QUEUED,
        )
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(
            status=Message.Status.SENDING,
            claimed_at=now,
            attempts=F("attempts") + 1,
        )
    )
    if not claimed:
        return None
    message = Message.objects.select_related(
        "incident__policy", "party", "template_version"
    ).get(pk=message_id)
    refusal = departure_refusal(message)
    if refusal:
        with transaction.atomic():
            if Message.objects.filter(
                pk=message.pk, status=Message.Status.SENDING
            ).update(
                status=Message.Status.WITHDRAWN,
                status_reason=refusal[:300],
                next_attempt_at=None,
            ):
                message.refresh_from_db()
                _event(
                    message, TimelineEvent.Kind.MESSAGE_WITHDRAWN, None, reason=refusal
                )
        return message
    # Once some readers have it, the rest get the same words.
    started = bool(message.delivered_to or message.in_doubt_to)
    fresh = None if started else rendered_now(message)
    if fresh is not None and fresh != (message.subject, message.body):
        message.subject, message.body = fresh
        Message.objects.filter(pk=message.pk, status=Message.Status.SENDING).update(
            subject=message.subject, body=message.body
        )
    webhook = ""
    if message.channel == Channel.CHAT:
        route = selectors.chat_route_for(message.incident)
        webhook = route.webhook_url if route else ""
        pinged = _with_route_ping(route, message)
        if pinged != message.body:
            message.body = pinged
            Message.objects.filter(pk=message.pk, status=Message.Status.SENDING).update(
                body=message.body
            )

    # This worker's claim: once the stale-claim sweep has given the rest of
    # the send to another worker, this one must not hand over another chunk.
    still_mine = Message.objects.filter(
        pk=message.pk, status=Message.Status.SENDING, claimed_at=now
    )

    def handing_over(addresses: list[str]) -> None:
        # Saved before the mail server sees them: should this worker die now,
        # these are the only addresses in doubt, and none is sent again.
        message.handing_over_to = addresses
        if not still_mine.update(handing_over_to=addresses):
            raise ClaimLost

    def delivered(addresses: list[str]) -> None:
        # Saved at once: a retry after a later failure skips these.
        message.delivered_to = [*message.delivered_to, *addresses]
        message.handing_over_to = []
        still_mine.update(delivered_to=message.delivered_to, handing_over_to=[])

    def in_doubt(addresses: list[str]) -> None:
        message.in_doubt_to = [*message.in_doubt_to, *addresses]
        still_mine.update(in_doubt_to=message.in_doubt_to)

    deadline = deadline or time.monotonic() + settings.COMMS_DELIVERY_SLICE_SECONDS

    def share_done(chunks_sent: int) -> bool:
        return (
            chunks_sent >= settings.COMMS_DELIVERY_CHUNKS_PER_TASK
            or time.monotonic() >= deadline
        )

    try:
        channels.backend_for(message.channel).send(
            message,
            chat_webhook_url=webhook,
            on_delivered=delivered,
            on_handing_over=handing_over,
            on_in_doubt=in_doubt,
            budget=share_done,
        )
    except ClaimLost:
        return None
    except channels.DeliveryPaused:
        return _hand_on(message, claimed_at=now)
    except channels.DeliveryError as exc:
        return _record_failure(message, str(exc), claimed_at=now)
    return _record_success(message, claimed_at=now)


class ClaimLost(Exception):
    """Another worker holds the message now: this one stops where it is."""


def _claim(message: Message, claimed_at: dt.datetime | None):
    """The message while still SENDING under this claim (any claim if None)."""
    rows = Message.objects.filter(pk=message.pk, status=Message.Status.SENDING)
    return rows if claimed_at is None else rows.filter(claimed_at=claimed_at)


def _hand_on(message: Message, claimed_at: dt.datetime) -> Message:
    """Give the rest of a long send to a new task, at once: this one has had
    its share (a task that runs past the cluster's timeout is killed)."""
    with transaction.atomic():
        # Not a failed attempt: the claim is given back as it was taken.
        if _claim(message, claimed_at).update(
            status=Message.Status.QUEUED,
            attempts=F("attempts") - 1,
            next_attempt_at=timezone.now(),
        ):
            _enqueue_delivery(message.pk)
    message.refresh_from_db()
    return message


def _with_route_ping(route, message: Message) -> str:
    """A post to a route's channel opens with the people the route pings
    (e.g. "@engineering @cs-leads"), unless the text names them already."""
    if not route or not route.ping or route.channel_name not in message.recipients:
        return message.body
    missing = [name for name in route.ping.split() if name not in message.body]
    return f"{' '.join(missing)} {message.body}" if missing else message.body


TIMELINE_RECIPIENTS = 10


@transaction.atomic
def _record_success(message: Message, claimed_at: dt.datetime | None = None) -> Message:
    now = timezone.now()
    # Only the claim still in force may settle the message: if the stale-claim
    # sweep already gave up on this attempt, a person now decides.
    if not _claim(message, claimed_at).update(
        status=Message.Status.SENT, sent_at=now, last_error="", next_attempt_at=None
    ):
        return message
    message.refresh_from_db()
    _event(
        message,
        TimelineEvent.Kind.MESSAGE_SENT,
        None,
        # The row every page of the incident reads: a few names and the count.
        recipients=message.recipients[:TIMELINE_RECIPIENTS],
        recipient_count=len(message.recipients),
        attempts=message.attempts,
    )
    incident = message.incident
    if (
        message.audience == Audience.CUSTOMER
        # A post on the public page answers nobody in particular.
        and message.channel != Channel.STATUS_PAGE
        and incident.first_response_at is None
    ):
        # Someone may have recorded it by hand in the meantime.
        with contextlib.suppress(ValidationError):
            incident_services.record_first_response(
                incident=incident,
                actor=message.created_by,
                responded_at=now,
                channel=message.get_channel_display(),
            )
    return message


@transaction.atomic
def _record_failure(
    message: Message, error: str, claimed_at: dt.datetime | None = None
) -> Message:
    now = timezone.now()
    still_claimed = _claim(message, claimed_at)
    if message.attempts >= settings.COMMS_MAX_ATTEMPTS:
        if not still_claimed.update(
            status=Message.Status.FAILED, last_error=error, next_attempt_at=None
        ):
            return message
        message.refresh_from_db()
        _event(
            message,
            TimelineEvent.Kind.MESSAGE_FAILED,
            None,
            error=error,
            attempts=message.attempts,
        )
    else:
        still_claimed.update(
            status=Message.Status.QUEUED,
            last_error=error,
            next_attempt_at=now + _backoff(message.attempts),
        )
        message.refresh_from_db()
    return message


# Held messages one sweep looks at for staleness at most.
WITHDRAW_BATCH = 500


def withdraw_stale_messages(now: dt.datetime) -> int:
    """Withdraw held, scheduled and failed messages whose reason has gone.

    Found in SQL from the incident's status (an update about ongoing work
    after resolution, a "fixed" after a reopening) or a newer message of
    the same kind to the same reader; each is judged again under its lock.
    """
    over = [*OVER_STAGES]
    # NULL never equals NULL in SQL: compare parties through a stand-in.
    newer = Message.objects.annotate(party_key=Coalesce("party", Value(0))).filter(
        incident=OuterRef("incident"),
        audience=OuterRef("audience"),
        party_key=OuterRef("party_key"),
        stage=OuterRef("stage"),
        pk__gt=OuterRef("pk"),
        status__in=[
            Message.Status.AWAITING_APPROVAL,
            *selectors.LIVE_MESSAGE_STATUSES,
        ],
    )
    held = Q(status__in=HELD_STATUSES) | Q(
        status=Message.Status.DRAFT, created_by__isnull=True
    )
    candidates = (
        Message.objects.annotate(party_key=Coalesce("party", Value(0)))
        .filter(held)
        .exclude(situation__startswith="credit")
        .filter(
            Q(
                ~Q(stage__in=[*over, Stage.POST_INCIDENT]),
                ~Q(incident__status__in=lifecycle.runs_while("progress_messages")),
            )
            | Q(
                ~Q(incident__status__in=lifecycle.runs_while("resolution_messages")),
                stage__in=over,
            )
            | Q(Exists(newer))
        )
        .values_list("pk", flat=True)[:WITHDRAW_BATCH]
    )
    withdrawn = 0
    for pk in list(candidates):
        with transaction.atomic():
            message = (
                Message.objects.select_for_update(of=("self",))
                .select_related("incident")
                .filter(pk=pk)
                .filter(held)
                .first()
            )
            if message is None:
                continue
            reason = stale_reason(message)
            if reason:
                withdraw(message, reason)
                withdrawn += 1
    return withdrawn


def _settle_dead_claim(message: Message, now: dt.datetime) -> int:
    """Settle a message whose worker stopped mid-send; 1 if this did.

    An e-mail records what it was handing over, so only those addresses are
    in doubt: they are never sent again, and the rest goes on at once. For
    any other send nobody can tell what went out, so a person decides.
    """
    claimed = _claim(message, message.claimed_at)
    if message.channel == Channel.EMAIL:
        in_doubt = [*message.in_doubt_to, *message.handing_over_to]
        settled = {a.lower() for a in [*message.delivered_to, *in_doubt]}
        rest = [r for r in message.recipients if r.lower() not in settled]
        doubt = (
            f"The delivery worker stopped while handing {len(message.handing_over_to)}"
            f" e-mail(s) to the mail server ({', '.join(message.handing_over_to)})"
            ": they may or may not have arrived, and are not sent again."
            if message.handing_over_to
            else ""
        )
        if rest:
            if not claimed.update(
                status=Message.Status.QUEUED,
                in_doubt_to=in_doubt,
                handing_over_to=[],
                last_error=doubt,
                next_attempt_at=now,
            ):
                return 0
            if doubt:
                _event(message, TimelineEvent.Kind.MESSAGE_FAILED, None, error=doubt)
            _enqueue_delivery(message.pk)
            return 1
        if not in_doubt:
            # It died after its last e-mail, before saying so: all went out.
            _record_success(message, claimed_at=message.claimed_at)
            return 1
        if not claimed.update(
            status=Message.Status.FAILED,
            in_doubt_to=in_doubt,
            handing_over_to=[],
            last_error=(doubt or "The delivery worker stopped mid-send.")
            + " Check with the recipient, then retry if needed.",
        ):
            return 0
    elif not claimed.update(
        status=Message.Status.FAILED,
        last_error="The delivery worker stopped mid-send; the message "
        "may or may not have gone out. Check, then retry if needed.",
    ):
        return 0
    message.refresh_from_db()
    _event(message, TimelineEvent.Kind.MESSAGE_FAILED, None, error=message.last_error)
    return 1


def due_work(now: dt.datetime) -> dict[str, int]:
    """Withdraw what no longer holds, release scheduled messages, enqueue due
    retries, settle dead claims."""
    withdrawn = withdraw_stale_messages(now)
    released = []
    for message_id in Message.objects.filter(
        status=Message.Status.SCHEDULED, send_after__lte=now
    ).values_list("pk", flat=True):
        with transaction.atomic():
            if Message.objects.filter(
                pk=message_id, status=Message.Status.SCHEDULED
            ).update(status=Message.Status.QUEUED, queued_at=now, next_attempt_at=now):
                released.append(message_id)
    # A message queued a moment ago has its task on the way already; one
    # that has waited longer than a task takes lost its task, and a retry
    # that falls due has none.
    lost_before = now - dt.timedelta(seconds=settings.COMMS_LOST_TASK_SECONDS)
    due = list(
        Message.objects.filter(status=Message.Status.QUEUED, next_attempt_at__lte=now)
        .filter(Q(attempts__gt=0) | Q(queued_at__lte=lost_before))
        .exclude(pk__in=released)
        .values_list("pk", flat=True)[:500]
    )
    _enqueue_deliveries([*released, *due])
    stale_before = now - dt.timedelta(seconds=settings.COMMS_STALE_CLAIM_SECONDS)
    stale = 0
    for pk in Message.objects.filter(
        status=Message.Status.SENDING, claimed_at__lt=stale_before
    ).values_list("pk", flat=True):
        with transaction.atomic():
            # Read again under the lock: another sweep may have settled it,
            # and a worker may have claimed it since.
            message = (
                Message.objects.select_for_update(of=("self",))
                .select_related("incident")
                .filter(
                    pk=pk, status=Message.Status.SENDING, claimed_at__lt=stale_before
                )
                .first()
            )
            if message is not None:
                stale += _settle_dead_claim(message, now)
    return {
        "withdrawn": withdrawn,
        "released": len(released),
        "enqueued": len(due),
        "stale": stale,
    }
