"""The receivers of the integrations app, connected in its ready().

The timeline is incidents' own append-only history; listening to its
inserts here keeps the incidents app unaware of webhooks (it imports
nothing from this app). Entries written in one statement
(``timeline_written_together``, the archive sweep) send no signal and so
no webhook; none of them is an event endpoints can subscribe to.
"""

import logging

from django.db import DatabaseError, transaction
from django.db.models.signals import post_delete, post_save

from incidents.models import TimelineEvent

from . import events, subscriptions
from .models import WebhookEndpoint

logger = logging.getLogger(__name__)


def connect() -> None:
    post_save.connect(
        timeline_event_saved,
        sender=TimelineEvent,
        dispatch_uid="integrations.timeline_event_saved",
    )
    for signal, uid in ((post_save, "saved"), (post_delete, "deleted")):
        signal.connect(
            endpoint_changed,
            sender=WebhookEndpoint,
            dispatch_uid=f"integrations.endpoint_{uid}",
        )


def timeline_event_saved(sender, instance, created, raw=False, **kwargs):
    """Queue the webhook deliveries a new timeline entry calls for."""
    if not created or raw:
        return
    try:
        subscribed = subscriptions.subscribers_by_event()
    except DatabaseError:
        logger.exception("webhook endpoints unreadable; no webhook for %s", instance)
        return
    if not subscribed:
        return
    wanted = {
        name: subscribed[name]
        for name in events.webhook_events(instance.kind, instance.details)
        if name in subscribed
    }
    if not wanted:
        return
    from . import services

    try:
        # A savepoint: a webhook must never take the act down with it.
        with transaction.atomic():
            services.queue_timeline_event(event=instance, endpoints_by_event=wanted)
    except Exception:
        logger.exception(
            "webhook deliveries for timeline entry %s were not queued", instance.pk
        )


def endpoint_changed(sender, **kwargs):
    subscriptions.forget()
    # Again after the commit: a read between the two saw the old rows.
    transaction.on_commit(subscriptions.forget)
