"""Reads of the integrations app."""

import datetime as dt

from django.db.models import QuerySet

from .models import WebhookDelivery, WebhookEndpoint


def due_deliveries(now: dt.datetime) -> QuerySet[WebhookDelivery]:
    """Return the deliveries the sweep sends: waiting, due, endpoint active."""
    return WebhookDelivery.objects.filter(
        status=WebhookDelivery.Status.PENDING,
        next_attempt_at__lte=now,
        endpoint__is_active=True,
    ).order_by("next_attempt_at", "pk")


def stale_deliveries(claimed_before: dt.datetime) -> QuerySet[WebhookDelivery]:
    """Return the deliveries a worker took before ``claimed_before`` and never
    settled (it died or was killed mid-send)."""
    return WebhookDelivery.objects.filter(
        status=WebhookDelivery.Status.SENDING, claimed_at__lt=claimed_before
    )


def paused_endpoints() -> QuerySet[WebhookEndpoint]:
    """Return the endpoints paused, by hand or after failing too often."""
    return WebhookEndpoint.objects.filter(paused_at__isnull=False).order_by(
        "paused_at", "pk"
    )
