"""The public status page, its feeds and its JSON: no sign-in, cacheable.

Each answer is rendered once and kept in the cache under the page's
``updated_at`` (every post and every edit moves it) and the date in the
page's zone (the uptime bars move on at midnight), so a warm request reads
one row, the page's, and a conditional one is answered 304. Bodies are
rendered without the request: nothing in them depends on who asks.
"""

import datetime as dt
import hashlib
import io
import json
import math
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth.decorators import login_not_required
from django.contrib.syndication.views import Feed
from django.core.cache import cache
from django.http import Http404, HttpResponse, HttpResponseNotAllowed
from django.template import TemplateDoesNotExist
from django.template.defaultfilters import linebreaksbr
from django.template.loader import get_template, render_to_string
from django.urls import reverse
from django.utils import feedgenerator, timezone
from django.utils.cache import get_conditional_response
from django.utils.html import escape
from django.utils.http import http_date
from django.views.decorators.http import require_safe

from ..models import StatusPage
from ..selectors import public as selectors

CACHE_CONTROL = "public, max-age=30"
# A safety net for edits that do not touch the page's updated_at (a
# component renamed in the admin): rendered again after this long.
CACHE_SECONDS_AT_MOST = 300
SUBSCRIBE_TEMPLATE = "statuspage/public/_subscribe_form.html"
# Set on responses the host middleware may strip "Vary: Cookie" from.
PUBLIC_RESPONSE_FLAG = "is_public_status_page"


@dataclass(frozen=True)
class Rendered:
    content: bytes
    content_type: str
    etag: str
    last_modified: float
    expires_at: dt.datetime


Renderer = Callable[[StatusPage, str, dt.datetime], tuple]


def page_base(request, page: StatusPage) -> str:
    """Return the page's address as this request reaches it: "/" on the
    page's own host, /status/<slug>/ on the portal's."""
    if getattr(request, "status_page_slug", None) == page.slug:
        return "/"
    return reverse("statuspage:page", args=[page.slug])


def _serve(
    request, slug: str, *, view: str, render: Renderer, extra=""
) -> HttpResponse:
    page = selectors.live_status_page(slug=slug)
    if page is None:
        raise Http404("No such status page.")
    now = timezone.now()
    zone = selectors.page_zone(page)
    base = page_base(request, page)
    # Feeds and JSON carry absolute addresses: the host is part of the key.
    parts = [
        view,
        str(extra),
        page.slug,
        request.get_host(),
        request.scheme,
        base,
        page.updated_at.isoformat(),
        now.astimezone(zone).date().isoformat(),
    ]
    key = "statuspage:public:" + hashlib.sha256("|".join(parts).encode()).hexdigest()
    rendered = cache.get(key)
    if rendered is None or rendered.expires_at <= now:
        with timezone.override(zone):
            content, content_type, valid_from, expires_at = render(page, base, now)
        rendered = Rendered(
            content=content,
            content_type=content_type,
            etag='"' + hashlib.sha256(content).hexdigest()[:32] + '"',
            last_modified=max(page.updated_at, valid_from).timestamp(),
            expires_at=expires_at,
        )
        seconds = math.ceil((expires_at - now).total_seconds())
        cache.set(key, rendered, min(max(1, seconds), CACHE_SECONDS_AT_MOST))
    response = get_conditional_response(
        request, etag=rendered.etag, last_modified=int(rendered.last_modified)
    )
    if response is None:
        response = HttpResponse(rendered.content, content_type=rendered.content_type)
    response.headers["ETag"] = rendered.etag
    response.headers["Last-Modified"] = http_date(rendered.last_modified)
    response.headers["Cache-Control"] = CACHE_CONTROL
    setattr(response, PUBLIC_RESPONSE_FLAG, True)
    return response


def _urls(base: str) -> dict[str, str]:
    return {
        "page": base,
        "json": base + "status.json",
        "rss": base + "feed.rss",
        "atom": base + "feed.atom",
        "subscribe": base + "subscribe/",
    }


def _public_page(page: StatusPage) -> dict[str, str]:
    # The template gets these values, not the row: no relation to follow.
    return {
        "name": page.name,
        "slug": page.slug,
        "brand_text": page.brand_text,
        "intro": page.intro,
        "time_zone": page.time_zone,
    }


def _subscribe_template() -> str | None:
    try:
        get_template(SUBSCRIBE_TEMPLATE)
    except TemplateDoesNotExist:
        return None
    return SUBSCRIBE_TEMPLATE


def _today(page: StatusPage, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    zone = selectors.page_zone(page)
    today = now.astimezone(zone).date()
    return (
        selectors.day_start(today, zone),
        selectors.day_start(today + dt.timedelta(days=1), zone),
    )


def _validity(snapshot) -> tuple[dt.datetime, dt.datetime]:
    return snapshot.valid_from, snapshot.expires_at


def _html(template: str, context: dict) -> bytes:
    return render_to_string(template, context).encode()


@login_not_required
@require_safe
def status_page(request, slug):
    def render(page, base, now):
        snapshot = selectors.page_snapshot(page=page, now=now)
        content = _html(
            "statuspage/public/status_page.html",
            {
                "page": _public_page(page),
                "urls": _urls(base),
                "snapshot": snapshot,
                "uptime_days": selectors.UPTIME_DAYS,
                "past_days": selectors.PAST_DAYS,
                "subscribe_template": _subscribe_template(),
            },
        )
        return content, "text/html; charset=utf-8", *_validity(snapshot)

    return _serve(request, slug, view="page", render=render)


@login_not_required
@require_safe
def publication_detail(request, slug, pk):
    def render(page, base, now):
        publication = selectors.posted_publication(page=page, pk=pk)
        if publication is None:
            raise Http404("Nothing was posted here.")
        content = _html(
            "statuspage/public/publication_detail.html",
            {
                "page": _public_page(page),
                "urls": _urls(base),
                "publication": publication,
                "subscribe_template": _subscribe_template(),
            },
        )
        return content, "text/html; charset=utf-8", *_today(page, now)

    return _serve(request, slug, view="publication", render=render, extra=pk)


def _utc(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _publication_json(publication, *, maintenance: bool) -> dict:
    times = (
        {
            "scheduled_for": _utc(publication.starts_at),
            "scheduled_until": _utc(publication.ends_at),
        }
        if maintenance
        else {
            "started_at": _utc(publication.starts_at),
            "resolved_at": _utc(publication.ends_at),
        }
    )
    return {
        "id": publication.id,
        "title": publication.title,
        "status": publication.status,
        "impact": publication.impact,
        **times,
        "components": list(publication.component_ids),
        "updates": [
            {
                "status": update.status,
                "body": update.body,
                "posted_at": _utc(update.posted_at),
            }
            for update in publication.updates
        ],
    }


@login_not_required
@require_safe
def status_json(request, slug):
    def render(page, base, now):
        snapshot = selectors.page_snapshot(page=page, now=now)
        data = {
            "page": {
                "name": page.name,
                "url": request.build_absolute_uri(base),
                "time_zone": page.time_zone,
                "updated_at": _utc(page.updated_at),
            },
            "status": {
                "indicator": snapshot.status,
                "description": snapshot.status_description,
            },
            "components": [
                {
                    "id": component.id,
                    "name": component.name,
                    "group": component.group,
                    "status": component.status,
                }
                for component in snapshot.components
            ],
            "incidents": [
                _publication_json(p, maintenance=False) for p in snapshot.incidents
            ],
            "maintenance": [
                _publication_json(p, maintenance=True) for p in snapshot.maintenance
            ],
        }
        content = json.dumps(data, ensure_ascii=False, indent=2).encode()
        return content, "application/json", *_validity(snapshot)

    return _serve(request, slug, view="json", render=render)


@dataclass(frozen=True)
class _FeedSource:
    page: StatusPage
    base: str
    entries: list["_FeedEntry"]


@dataclass(frozen=True)
class _FeedEntry:
    item: selectors.FeedItem
    link: str


class RssFeed(Feed):
    """The page's latest posted updates, newest first."""

    # LoginRequiredMiddleware reads this off the view, here the instance.
    login_required = False
    view_name = "rss"
    item_guid_is_permalink = False

    def __call__(self, request, slug):
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])

        def render(page, base, now):
            entries = [
                _FeedEntry(item=item, link=f"{base}incidents/{item.publication_id}/")
                for item in selectors.latest_posted_updates(page=page)
            ]
            feed = self.get_feed(_FeedSource(page, base, entries), request)
            out = io.StringIO()
            feed.write(out, "utf-8")
            return out.getvalue().encode(), feed.content_type, *_today(page, now)

        return _serve(request, slug, view=self.view_name, render=render)

    def title(self, obj):
        return f"{obj.page.name}: incidents and maintenance"

    def link(self, obj):
        return obj.base

    def description(self, obj):
        return obj.page.intro or f"Incidents and maintenance on {obj.page.name}."

    def items(self, obj):
        return obj.entries

    def item_title(self, entry):
        # Feed readers show titles as HTML, as Django's default assumes.
        return escape(f"{entry.item.title}: {entry.item.status_label}")

    def item_description(self, entry):
        return linebreaksbr(entry.item.body, autoescape=True)

    def item_link(self, entry):
        return entry.link

    def item_guid(self, entry):
        # The same whichever host the feed is read on.
        return f"urn:switchboard:status-update:{entry.item.id}"

    def item_pubdate(self, entry):
        return entry.item.posted_at


class AtomFeed(RssFeed):
    feed_type = feedgenerator.Atom1Feed
    view_name = "atom"

    def subtitle(self, obj):
        return self.description(obj)
