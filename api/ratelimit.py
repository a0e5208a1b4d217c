"""Requests per token per minute: a fixed window counted in Django's cache."""

import time

from django.conf import settings
from django.core.cache import cache
from ninja.throttling import BaseThrottle

WINDOW_SECONDS = 60


class TokenRateLimit(BaseThrottle):
    """Refuse a token's requests past API_RATE_LIMIT_PER_MINUTE (0: no limit).

    The window is the clock minute, shared by every web process through the
    cache when the cache is shared (Redis); with the local-memory cache each
    process counts on its own, so the limit is per process.
    """

    def allow_request(self, request) -> bool:
        limit = settings.API_RATE_LIMIT_PER_MINUTE
        token = getattr(request, "auth", None)
        if not limit or token is None:
            return True
        window = int(time.time() // WINDOW_SECONDS)
        key = f"api:rate:{token.pk}:{window}"
        cache.add(key, 0, timeout=WINDOW_SECONDS * 2)
        try:
            count = cache.incr(key)
        except ValueError:  # evicted between add and incr
            cache.set(key, 1, timeout=WINDOW_SECONDS * 2)
            count = 1
        return count <= limit

    def wait(self) -> float:
        return WINDOW_SECONDS - time.time() % WINDOW_SECONDS
