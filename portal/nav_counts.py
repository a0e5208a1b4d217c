"""The counts the navigation shows on every page, kept in the cache.

Each count is computed at most once per NAV_COUNT_SECONDS and forgotten by
the services the moment a decision is made or a request is filed, so the
badge is current for whoever acted, and no older than that for anyone else
(each web process has its own cache unless REDIS_URL gives them one).
"""

from collections.abc import Callable

from django.core.cache import cache
from django.db import transaction

NAV_COUNT_SECONDS = 30
_VERSION_KEY = "nav-counts:version"


def nav_count(name: str, compute: Callable[[], int], *, user=None) -> int:
    """Return the count ``name`` (for ``user``, if per person), cached."""
    version = cache.get_or_set(_VERSION_KEY, 1)
    key = f"nav-counts:{version}:{name}:{user.pk if user is not None else '-'}"
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, NAV_COUNT_SECONDS)
    return value


def forget_nav_counts() -> None:
    """Drop every cached count once the current transaction commits."""

    def forget():
        try:
            cache.incr(_VERSION_KEY)
        except ValueError:
            cache.set(_VERSION_KEY, 1)

    transaction.on_commit(forget)
