"""Outbound webhooks: queue a delivery per subscribed endpoint when the
timeline records an event, post it signed, retry it with a doubling delay,
and pause an endpoint that keeps failing.

Deliveries are made in the transaction of the act that recorded the event,
so a rolled-back act sends nothing, and posted by the task cluster once it
commits. See docs/webhooks.md for what a receiver gets.
"""

import datetime as dt
import json
import logging
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.mail import mail_admins, send_mail
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django_q.tasks import async_task

from incidents.models import Incident, TimelineEvent

from . import selectors, signing, subscriptions
from .models import PING, WebhookDelivery, WebhookEndpoint, new_secret

logger = logging.getLogger(__name__)

User = AbstractBaseUser

DELIVER_TASK = "integrations.tasks.deliver_webhook"
# A delivery whose task has not taken it by then lost its task (the queue was
# down, or a worker died before the claim): the sweep enqueues it again.
LOST_TASK_AFTER = dt.timedelta(minutes=2)
# Deliveries one sweep hands to the workers; the rest wait a minute.
DELIVERIES_PER_SWEEP = 500


# --- Queueing -----------------------------------------------------------------


def queue_timeline_event(
    *, event: TimelineEvent, endpoints_by_event: dict[str, Iterable[int]]
) -> list[WebhookDelivery]:
    """Queue one delivery per event name and endpoint that still wants it.

    Called by the timeline's receiver, inside the act's transaction. The
    endpoint ids come from a per-process cache, so they are checked here:
    an endpoint paused or deleted since gets nothing.
    """
    wanted = {pk for ids in endpoints_by_event.values() for pk in ids}
    active = set(
        WebhookEndpoint.objects.filter(pk__in=wanted, is_active=True).values_list(
            "pk", flat=True
        )
    )
    if not active:
        return []
    incident = Incident.objects.only("title", "priority", "status").get(
        pk=event.incident_id
    )
    actor, now = _actor_name(event), timezone.now()
    deliveries = []
    for name, endpoint_ids in endpoints_by_event.items():
        event_id = uuid.uuid4()
        payload = _payload(
            event_id=event_id,
            name=name,
            occurred_at=event.created_at,
            incident=incident,
            actor=actor,
            kind=event.kind,
            data=event.details,
        )
        deliveries.extend(
            WebhookDelivery(
                endpoint_id=endpoint_id,
                incident=incident,
                event=name,
                event_id=event_id,
                payload=payload,
                next_attempt_at=now + LOST_TASK_AFTER,
            )
            for endpoint_id in sorted(set(endpoint_ids) & active)
        )
    created = WebhookDelivery.objects.bulk_create(deliveries)
    _enqueue_on_commit(d.pk for d in created)
    return created


def _actor_name(event: TimelineEvent) -> str | None:
    if event.actor_id is None:
        return None
    if TimelineEvent._meta.get_field("actor").is_cached(event):
        return event.actor.get_username()
    user_model = TimelineEvent._meta.get_field("actor").related_model
    return (
        user_model._default_manager.filter(pk=event.actor_id)
        .values_list(user_model.USERNAME_FIELD, flat=True)
        .first()
    )


def _payload(
    *,
    event_id: uuid.UUID,
    name: str,
    occurred_at: dt.datetime,
    incident: Incident | None,
    actor: str | None,
    kind: str,
    data: dict[str, Any],
) -> dict[str, Any]:
    """Return the JSON body of one event (the same for every retry)."""
    return {
        "id": str(event_id),
        "event": str(name),
        "occurred_at": _utc(occurred_at),
        "incident": _incident_summary(incident) if incident else None,
        "actor": actor,
        # The timeline entry the event comes from, and what it recorded: an
        # escalation.decided says here whether it was approved or returned.
        "kind": str(kind),
        "data": data,
    }


def _incident_summary(incident: Incident) -> dict[str, Any]:
    base = settings.PORTAL_BASE_URL.rstrip("/")
    return {
        "id": incident.pk,
        "reference": incident.reference,
        "title": incident.title,
        "priority": incident.priority,
        "status": incident.status,
        "url": f"{base}{incident.get_absolute_url()}",
    }


def _utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _enqueue_on_commit(delivery_ids: Iterable[int]) -> None:
    for delivery_id in delivery_ids:
        transaction.on_commit(
            lambda delivery_id=delivery_id: async_task(DELIVER_TASK, delivery_id)
        )


# --- Sending ------------------------------------------------------------------


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Refuse redirects: the signed body goes to the registered URL only.

    urllib then raises the 3xx answer as an HTTPError, a failure like any
    other non-2xx answer.
    """

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def _post(delivery: WebhookDelivery) -> tuple[int | None, int, str]:
    """Post the delivery signed; return (status code, milliseconds, error).

    The error is empty when the endpoint answered 2xx; the code is None when
    it did not answer at all.
    """
    endpoint = delivery.endpoint
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    timestamp = int(timezone.now().timestamp())
    request = urllib.request.Request(
        endpoint.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "Switchboard-Webhooks/1",
            signing.EVENT_HEADER: delivery.event,
            signing.DELIVERY_HEADER: str(delivery.event_id),
            signing.SIGNATURE_HEADER: signing.signature_header(
                endpoint.secret, timestamp, body
            ),
        },
    )
    opener = urllib.request.build_opener(_NoRedirects)
    started = time.perf_counter()
    code, error = None, ""
    try:
        with opener.open(
            request, timeout=settings.INTEGRATIONS_WEBHOOK_TIMEOUT
        ) as answer:
            code = answer.status
    except urllib.error.HTTPError as exc:
        code = exc.code
        error = f"Answered {exc.code}" + (
            " (redirects are not followed)" if 300 <= exc.code < 400 else ""
        )
        exc.close()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        error = f"No answer: {reason}"
    elapsed_ms = round((time.perf_counter() - started) * 1000)
    return code, elapsed_ms, error[:300]


def _retry_delay(attempts: int) -> dt.timedelta:
    base = settings.INTEGRATIONS_WEBHOOK_RETRY_SECONDS
    return dt.timedelta(seconds=base * 2 ** max(attempts - 1, 0))


def deliver_webhook(*, delivery_id: int) -> WebhookDelivery | None:
    """Post one waiting delivery; retry it later, or give it up at the last try.

    The claim is a conditional UPDATE, so of two workers given the same
    delivery one posts it. Every failure counts against the endpoint; too
    many in a row pause it.
    """
    now = timezone.now()
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, status=WebhookDelivery.Status.PENDING
    ).update(
        status=WebhookDelivery.Status.SENDING,
        claimed_at=now,
        attempts=F("attempts") + 1,
    )
    if not claimed:
        return None
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    # This worker's claim: if the sweep has given the delivery to another
    # worker meanwhile, this one's outcome is not written.
    mine = WebhookDelivery.objects.filter(
        pk=delivery_id, status=WebhookDelivery.Status.SENDING, claimed_at=now
    )
    if not delivery.endpoint.is_active:
        # Held while its endpoint is paused (not a try): resuming sends it.
        mine.update(
            status=WebhookDelivery.Status.PENDING,
            attempts=F("attempts") - 1,
            claimed_at=None,
            next_attempt_at=now,
        )
        delivery.refresh_from_db()
        return delivery
    code, elapsed_ms, error = _post(delivery)
    done = timezone.now()
    with transaction.atomic():
        if not error:
            if mine.update(
                status=WebhookDelivery.Status.SENT,
                response_code=code,
                response_ms=elapsed_ms,
                sent_at=done,
                last_error="",
                next_attempt_at=None,
            ):
                WebhookEndpoint.objects.filter(
                    pk=delivery.endpoint_id, consecutive_failures__gt=0
                ).update(consecutive_failures=0)
        else:
            gave_up = delivery.attempts >= settings.INTEGRATIONS_WEBHOOK_MAX_ATTEMPTS
            status, retry_at = (
                (WebhookDelivery.Status.FAILED, None)
                if gave_up
                else (
                    WebhookDelivery.Status.PENDING,
                    done + _retry_delay(delivery.attempts),
                )
            )
            if mine.update(
                status=status,
                response_code=code,
                response_ms=elapsed_ms,
                last_error=error,
                next_attempt_at=retry_at,
            ):
                _count_failure(delivery.endpoint_id, error=error, now=done)
    delivery.refresh_from_db()
    return delivery


def _count_failure(endpoint_id: int, *, error: str, now: dt.datetime) -> None:
    """Count one more failure in a row; pause the endpoint at the limit."""
    WebhookEndpoint.objects.filter(pk=endpoint_id).update(
        consecutive_failures=F("consecutive_failures") + 1
    )
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint_id)
    limit = settings.INTEGRATIONS_WEBHOOK_PAUSE_AFTER
    if not endpoint.is_active or endpoint.consecutive_failures < limit:
        return
    reason = (
        f"Paused after {endpoint.consecutive_failures} failed deliveries in a "
        f"row; the last: {error}"
    )[:300]
    WebhookEndpoint.objects.filter(pk=endpoint_id, is_active=True).update(
        is_active=False, paused_at=now, paused_reason=reason
    )
    subscriptions.forget()
    logger.warning("webhook endpoint %s (%s): %s", endpoint.pk, endpoint.name, reason)
    transaction.on_commit(lambda: _tell_admins(endpoint, reason))


def _tell_admins(endpoint: WebhookEndpoint, reason: str) -> None:
    """Mail the site's admins (and the webhook notice list) that it paused."""
    base = settings.PORTAL_BASE_URL.rstrip("/")
    link = base + reverse(
        "admin:integrations_webhookendpoint_change", args=[endpoint.pk]
    )
    subject = f"Webhook endpoint paused: {endpoint.name}"
    text = (
        f"The webhook endpoint {endpoint.name} ({endpoint.url}) is paused.\n\n"
        f"{reason}\n\n"
        "It gets no new events, and its waiting deliveries are held. Once the "
        "receiver works again, resume it in the admin (the failures count "
        f"starts again and the held deliveries go out):\n{link}\n"
    )
    try:
        mail_admins(subject, text)
        extra = settings.INTEGRATIONS_WEBHOOK_NOTICE_EMAILS
        if extra:
            send_mail(
                subject,
                text,
                settings.DEFAULT_FROM_EMAIL,
                list(extra),
            )
    except Exception:
        # The pause stands and the admin list shows it; a mail server down
        # must not turn the task into a failure retried forever.
        logger.exception("the notice of paused endpoint %s was not sent", endpoint.pk)


def due_work(now: dt.datetime) -> dict[str, int]:
    """Enqueue the deliveries whose (re)try is due; put back those a dead
    worker held.

    A put-back delivery may have reached its receiver already: it is posted
    again with the same event id, which receivers de-duplicate by.
    """
    stale_before = now - dt.timedelta(seconds=settings.Q_CLUSTER["timeout"] * 2)
    recovered = selectors.stale_deliveries(stale_before).update(
        status=WebhookDelivery.Status.PENDING, claimed_at=None, next_attempt_at=now
    )
    due = list(
        selectors.due_deliveries(now).values_list("pk", flat=True)[
            :DELIVERIES_PER_SWEEP
        ]
    )
    if due:
        # Should the task be lost again, the sweep tries once more later,
        # not at every run while the queue is slow.
        WebhookDelivery.objects.filter(
            pk__in=due, status=WebhookDelivery.Status.PENDING
        ).update(next_attempt_at=now + LOST_TASK_AFTER)
        _enqueue_on_commit(due)
    return {"webhooks_due": len(due), "webhooks_recovered": recovered}


# --- The admin's actions ------------------------------------------------------


@transaction.atomic
def rotate_secret(*, endpoint: WebhookEndpoint, actor: User) -> WebhookEndpoint:
    """Give the endpoint a new signing secret (retries are signed with it too)."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    endpoint.secret = new_secret()
    endpoint.full_clean()
    endpoint.save(update_fields=["secret", "updated_at"])
    logger.info("webhook endpoint %s: secret rotated by %s", endpoint.pk, actor)
    return endpoint


@transaction.atomic
def pause_endpoint(*, endpoint: WebhookEndpoint, actor: User) -> WebhookEndpoint:
    """Stop posting to the endpoint; its waiting deliveries are held."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    if not endpoint.is_active:
        raise ValidationError(f"{endpoint} is paused already.", code="paused")
    endpoint.is_active = False
    endpoint.paused_at = timezone.now()
    endpoint.paused_reason = f"Paused by {actor.get_username()}."
    endpoint.full_clean()
    endpoint.save(
        update_fields=["is_active", "paused_at", "paused_reason", "updated_at"]
    )
    return endpoint


@transaction.atomic
def resume_endpoint(*, endpoint: WebhookEndpoint, actor: User) -> WebhookEndpoint:
    """Post to the endpoint again, counting failures from zero; the held
    deliveries go out at the next sweep."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    if endpoint.is_active:
        raise ValidationError(f"{endpoint} is not paused.", code="not_paused")
    endpoint.is_active = True
    endpoint.paused_at = None
    endpoint.paused_reason = ""
    endpoint.consecutive_failures = 0
    endpoint.full_clean()
    endpoint.save(
        update_fields=[
            "is_active",
            "paused_at",
            "paused_reason",
            "consecutive_failures",
            "updated_at",
        ]
    )
    logger.info("webhook endpoint %s: resumed by %s", endpoint.pk, actor)
    return endpoint


@transaction.atomic
def send_test_event(*, endpoint: WebhookEndpoint, actor: User) -> WebhookDelivery:
    """Post a "ping" event to the endpoint, whatever it subscribes to."""
    if not endpoint.is_active:
        raise ValidationError(
            f"{endpoint} is paused: resume it first.", code="endpoint_paused"
        )
    event_id, now = uuid.uuid4(), timezone.now()
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint,
        event=PING,
        event_id=event_id,
        payload=_payload(
            event_id=event_id,
            name=PING,
            occurred_at=now,
            incident=None,
            actor=actor.get_username(),
            kind=PING,
            data={"endpoint": endpoint.name, "events": endpoint.events},
        ),
        next_attempt_at=now + LOST_TASK_AFTER,
    )
    _enqueue_on_commit([delivery.pk])
    return delivery


@transaction.atomic
def send_delivery_again(*, delivery: WebhookDelivery, actor: User) -> WebhookDelivery:
    """Post a past delivery again: same event, same id, same body."""
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery.pk)
    if delivery.status in (
        WebhookDelivery.Status.PENDING,
        WebhookDelivery.Status.SENDING,
    ):
        raise ValidationError(
            f"Delivery {delivery.event_id} is still being tried.", code="not_finished"
        )
    if not delivery.endpoint.is_active:
        raise ValidationError(
            f"{delivery.endpoint} is paused: resume it first.", code="endpoint_paused"
        )
    replay = WebhookDelivery.objects.create(
        endpoint=delivery.endpoint,
        incident_id=delivery.incident_id,
        event=delivery.event,
        event_id=delivery.event_id,
        payload=delivery.payload,
        replay_of=delivery,
        next_attempt_at=timezone.now() + LOST_TASK_AFTER,
    )
    logger.info(
        "webhook delivery %s sent again as %s by %s", delivery.pk, replay.pk, actor
    )
    _enqueue_on_commit([replay.pk])
    return replay
