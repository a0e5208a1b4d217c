"""Paging a tier's on-call tool, and keeping the alert in step.

A tier with a pager of its own (PagerDuty or an HTTP webhook) gets a
trigger when its on-call person is paged, an acknowledge when a member takes
the escalation, and a resolve when the escalation ends however it ends. Each
is one PageDelivery, sent by the cluster and retried with a doubling delay;
the dedup key is the escalation's, so a call sent twice (a worker killed
after the pager accepted it) is one alert to the pager.
"""

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django_q.tasks import async_task

from incidents.models import TimelineEvent

from .. import paging
from ..models import Escalation, PageDelivery

# The escalation's timeline rows that move its page along.
FOLLOWS = {
    TimelineEvent.Kind.ESCALATION_ACKNOWLEDGED: PageDelivery.Action.ACKNOWLEDGE,
    TimelineEvent.Kind.ESCALATION_RESOLVED: PageDelivery.Action.RESOLVE,
    TimelineEvent.Kind.ESCALATION_RETURNED: PageDelivery.Action.RESOLVE,
    TimelineEvent.Kind.ESCALATION_CANCELLED: PageDelivery.Action.RESOLVE,
    TimelineEvent.Kind.ESCALATION_ENDED: PageDelivery.Action.RESOLVE,
}
PAGES_PER_SWEEP = 100


def dedup_key(escalation: Escalation) -> str:
    return f"switchboard-escalation-{escalation.pk}"


def queue_page(
    escalation: Escalation,
    action: str,
    *,
    subject: str = "",
    text: str = "",
    contact: str = "",
) -> PageDelivery | None:
    """Queue one call to the tier's pager, once per escalation and action."""
    tier = escalation.to_tier
    if not tier.pager:
        return None
    episode = _current_episode(escalation)
    if action == PageDelivery.Action.TRIGGER and _ended(escalation, episode):
        episode += 1  # paged again after its alert was resolved (a reopening)
    delivery, created = PageDelivery.objects.get_or_create(
        escalation=escalation,
        action=action,
        episode=episode,
        defaults={
            "tier": tier,
            "dedup_key": dedup_key(escalation),
            "subject": subject[:300],
            "text": text,
            "contact": contact,
            "next_attempt_at": timezone.now(),
        },
    )
    if created:
        delivery_id = delivery.pk
        transaction.on_commit(
            lambda: async_task("escalations.tasks.deliver_page", delivery_id)
        )
    return delivery


def _current_episode(escalation: Escalation) -> int:
    return (
        PageDelivery.objects.filter(escalation=escalation)
        .order_by("-episode")
        .values_list("episode", flat=True)
        .first()
        or 1
    )


def _ended(escalation: Escalation, episode: int) -> bool:
    return PageDelivery.objects.filter(
        escalation=escalation, episode=episode, action=PageDelivery.Action.RESOLVE
    ).exists()


def follow_escalation(escalation: Escalation, kind: str) -> None:
    """Acknowledge or resolve the alert a trigger opened, as the escalation
    moves; nothing when it was never paged through a pager of its own."""
    action = FOLLOWS.get(kind)
    if action is None:
        return
    episode = _current_episode(escalation)
    if not PageDelivery.objects.filter(
        escalation=escalation, episode=episode, action=PageDelivery.Action.TRIGGER
    ).exists() or _ended(escalation, episode):
        return
    queue_page(escalation, action)


def _retry_delay(attempts: int) -> dt.timedelta:
    return dt.timedelta(
        seconds=settings.ESCALATION_PAGER_RETRY_SECONDS * 2 ** max(attempts - 1, 0)
    )


def deliver_page(*, delivery_id: int) -> PageDelivery | None:
    """Send one page; retry later, or give up after the last attempt."""
    now = timezone.now()
    claimed = PageDelivery.objects.filter(
        pk=delivery_id, status=PageDelivery.Status.PENDING
    ).update(
        status=PageDelivery.Status.SENDING, claimed_at=now, attempts=F("attempts") + 1
    )
    if not claimed:
        return None
    delivery = PageDelivery.objects.select_related("tier", "escalation__incident").get(
        pk=delivery_id
    )
    mine = PageDelivery.objects.filter(
        pk=delivery_id, status=PageDelivery.Status.SENDING, claimed_at=now
    )
    if delivery.action != PageDelivery.Action.TRIGGER:
        earlier = [PageDelivery.Action.TRIGGER]
        if delivery.action == PageDelivery.Action.RESOLVE:
            earlier.append(PageDelivery.Action.ACKNOWLEDGE)
        if PageDelivery.objects.filter(
            escalation_id=delivery.escalation_id,
            episode=delivery.episode,
            action__in=earlier,
            status__in=[PageDelivery.Status.PENDING, PageDelivery.Status.SENDING],
        ).exists():
            # The pager hears trigger, acknowledge and resolve in that order;
            # wait for the earlier call (not counted as a try).
            mine.update(
                status=PageDelivery.Status.PENDING,
                attempts=F("attempts") - 1,
                next_attempt_at=now + _retry_delay(1),
            )
            return delivery
    try:
        code = paging.send_page(delivery)
    except paging.PagerError as exc:
        gave_up = delivery.attempts >= settings.ESCALATION_PAGER_MAX_ATTEMPTS
        mine.update(
            status=PageDelivery.Status.FAILED
            if gave_up
            else PageDelivery.Status.PENDING,
            last_error=str(exc)[:300],
            next_attempt_at=None if gave_up else now + _retry_delay(delivery.attempts),
        )
    else:
        mine.update(
            status=PageDelivery.Status.SENT,
            response_code=code,
            sent_at=timezone.now(),
            last_error="",
            next_attempt_at=None,
        )
    delivery.refresh_from_db()
    return delivery


def due_work(now: dt.datetime) -> dict:
    """Send the pages whose retry is due; put back those a dead worker held."""
    stale_before = now - dt.timedelta(seconds=settings.Q_CLUSTER["timeout"] * 2)
    # Sent again: the pager folds a repeat into the same alert (dedup key).
    recovered = PageDelivery.objects.filter(
        status=PageDelivery.Status.SENDING, claimed_at__lt=stale_before
    ).update(status=PageDelivery.Status.PENDING, next_attempt_at=now)
    due = list(
        PageDelivery.objects.filter(
            status=PageDelivery.Status.PENDING, next_attempt_at__lte=now
        )
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:PAGES_PER_SWEEP]
    )
    for delivery_id in due:
        transaction.on_commit(
            lambda delivery_id=delivery_id: async_task(
                "escalations.tasks.deliver_page", delivery_id
            )
        )
    return {"pages_due": len(due), "pages_recovered": recovered}
