"""A status page on a host name of its own (status.example.com).

Requests for such a host reach that page's public addresses and nothing
else: the staff portal is never served under a public name.
"""

import ipaddress
import re

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponseNotFound
from django.http.request import split_domain_port
from django.utils.cache import patch_vary_headers

from .selectors.public import status_page_hosts
from .views.public import PUBLIC_RESPONSE_FLAG

HOSTS_CACHE_KEY = "statuspage:hosts"
HOSTS_CACHE_SECONDS = 60
# The page's public addresses, relative to its root ("" is the page).
PUBLIC_PATH = re.compile(
    r"(?:status\.json|feed\.rss|feed\.atom|incidents/\d+/?|subscribe/?"
    r"|(?:confirm|unsubscribe)/[^/]+/?)?"
)


def could_be_page_host(domain: str) -> bool:
    """Tell whether ``domain`` could be a page's own host: a public DNS name
    has a dot and is not an address. Other names ("localhost", the test
    client's "testserver", an IP) are the portal's and cost no lookup."""
    if "." not in domain:
        return False
    try:
        ipaddress.ip_address(domain)
    except ValueError:
        return True
    return False


def host_slugs() -> dict[str, str]:
    """Return the pages' own host names with their slugs, cached briefly."""
    hosts = cache.get(HOSTS_CACHE_KEY)
    if hosts is None:
        hosts = status_page_hosts()
        cache.set(HOSTS_CACHE_KEY, hosts, HOSTS_CACHE_SECONDS)
    return hosts


class StatusPageHostMiddleware:
    """Answer a page's own host with that page alone.

    "/", "/status.json", "/incidents/7/" and the rest map onto the page's
    /status/<slug>/ addresses (so the URL resolver and the sign-in rule
    see the public views), static files pass, and every other path is 404.
    Runs before the session, sign-in and URL resolution. On any host, the
    public answers lose "Vary: Cookie", which the sign-in check adds.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        domain, _port = split_domain_port(request.get_host())
        domain = domain.lower()
        slug = host_slugs().get(domain) if could_be_page_host(domain) else None
        if slug is not None and not self._route(request, slug):
            return HttpResponseNotFound(
                b"Not found.", content_type="text/plain; charset=utf-8"
            )
        response = self.get_response(request)
        if getattr(response, PUBLIC_RESPONSE_FLAG, False):
            # The public answers are the same for everyone; a shared cache
            # must not keep one copy per visitor's cookies.
            _drop_cookie_vary(response)
        return response

    def _route(self, request, slug: str) -> bool:
        """Point the request at the page's public address; False if none."""
        path = request.path_info
        own_prefix = f"/status/{slug}/"
        if self._is_static(path):
            pass
        elif PUBLIC_PATH.fullmatch(path[1:]):
            request.path_info = own_prefix + path[1:]
        elif not (
            path.startswith(own_prefix)
            and PUBLIC_PATH.fullmatch(path[len(own_prefix) :])
        ):
            return False
        # Else a link written with reverse() (a form's action): it stands.
        request.status_page_slug = slug
        return True

    @staticmethod
    def _is_static(path: str) -> bool:
        static_url = settings.STATIC_URL or ""
        if "://" in static_url or static_url.startswith("//"):
            return False
        return path.startswith("/" + static_url.lstrip("/"))


def _drop_cookie_vary(response) -> None:
    vary = [
        value.strip()
        for value in response.headers.get("Vary", "").split(",")
        if value.strip() and value.strip().lower() != "cookie"
    ]
    del response.headers["Vary"]
    if vary:
        patch_vary_headers(response, vary)
