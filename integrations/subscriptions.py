"""Which active endpoints want which events, kept per process.

Every timeline entry asks; the sweep records thousands. With nothing to
deliver the answer must cost no query, so it is read at most once a
``TTL_SECONDS`` per process, and forgotten at once when an endpoint changes
in this process. Other processes (the task cluster's workers) see a change
within the TTL; the deliveries themselves are checked against the database,
so a paused or deleted endpoint never gets a new one.
"""

import threading
import time

from django.db import transaction

TTL_SECONDS = 60

_lock = threading.Lock()
_cached: tuple[float, dict[str, frozenset[int]]] | None = None


def subscribers_by_event() -> dict[str, frozenset[int]]:
    """Return {event name: ids of the active endpoints subscribed to it}."""
    global _cached
    cached = _cached
    if cached is not None and time.monotonic() < cached[0]:
        return cached[1]
    from .models import WebhookEndpoint

    # In a savepoint: should the read fail (a database not yet migrated),
    # the act that recorded the entry goes on without webhooks.
    with transaction.atomic():
        rows = list(
            WebhookEndpoint.objects.filter(is_active=True).values_list("pk", "events")
        )
    by_event: dict[str, set[int]] = {}
    for pk, events in rows:
        for name in events or []:
            by_event.setdefault(name, set()).add(pk)
    frozen = {name: frozenset(ids) for name, ids in by_event.items()}
    with _lock:
        _cached = (time.monotonic() + TTL_SECONDS, frozen)
    return frozen


def forget() -> None:
    """Read the endpoints again at the next timeline entry."""
    global _cached
    with _lock:
        _cached = None
