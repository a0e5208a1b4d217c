"""The floor page: what the served stack costs before any page does any work.

A login-required view (the portal's LoginRequiredMiddleware guards it like
every other page) that renders a tiny template and nothing else: sessions,
auth, middleware and one template render. bench/served.py serves it from the
same gunicorn as the portal's pages, so a page's pages/s can be read as a
fraction of this floor's. The portal never routes to it: only the bench's
gunicorn uses this URLconf (bench/bench_settings.py).
"""

from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_GET

from portal.urls import urlpatterns as portal_urlpatterns

FLOOR_PATH = "/bench/floor/"


@require_GET
def floor(request):
    return render(request, "bench/floor.html")


urlpatterns = [path(FLOOR_PATH.strip("/") + "/", floor), *portal_urlpatterns]
