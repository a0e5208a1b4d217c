"""The public status page (issue 27, points 3 and 5): served without
sign-in, only what was posted, fast and cacheable, on its own host too."""

import datetime as dt
import json
import re

import pytest
from django.core.cache import cache
from django.db import connection
from django.http import HttpResponse
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from comms import services as comms_services
from comms.models import Message
from incidents.models import Category, Policy, Priority
from statuspage import middleware, services
from statuspage.models import (
    Component,
    ComponentGroup,
    Impact,
    Publication,
    PublicStatus,
    PublicUpdate,
    StatusPage,
)
from statuspage.selectors import public as selectors
from statuspage.views import public as public_views
from tests.factories import CustomerFactory, IncidentFactory, UserFactory
from tests.portal.test_content_security_policy import inline_code

NOW = dt.datetime(2026, 11, 18, 12, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


@pytest.fixture
def page(db, frozen_now):
    page = StatusPage.objects.create(
        name="Fleet status",
        slug="fleet",
        brand_text="Fleet Manager",
        intro="How trip sync and the dashboard are doing.",
        time_zone="Europe/Berlin",
        policy=Policy.objects.get(name="Fleet SaaS"),
    )
    tracking = ComponentGroup.objects.create(page=page, name="Tracking", position=2)
    Component.objects.create(page=page, name="Dashboard", position=1)
    Component.objects.create(page=page, name="Trip sync", group=tracking, position=1)
    Component.objects.create(page=page, name="GPS feed", group=tracking, position=2)
    return page


def component(name):
    return Component.objects.get(name=name)


def publish(page, components, updates, *, title="Trip sync delays", kind="incident"):
    """Write a publication and its updates as posting leaves them.

    ``updates``: (status, impact, body, posted_at or None), oldest first.
    """
    publication = Publication.objects.create(
        page=page,
        kind=kind,
        incident=IncidentFactory(priority=Priority.P1)
        if kind == Publication.Kind.INCIDENT
        else None,
        title=title,
    )
    posted = []
    for status, impact, body, posted_at in updates:
        update = PublicUpdate.objects.create(
            publication=publication,
            status=status,
            impact=impact,
            body=body,
            posted_at=posted_at,
        )
        update.components.set(components)
        if posted_at:
            posted.append(update)
    if posted:
        latest = posted[-1]
        publication.status, publication.impact = latest.status, latest.impact
        publication.starts_at = posted[0].posted_at
        if latest.status == PublicStatus.RESOLVED:
            publication.ends_at = latest.posted_at
        publication.save()
        publication.components.set(components)
    StatusPage.objects.filter(pk=page.pk).update(updated_at=timezone.now())
    return publication


def maintenance(page, components, *, starts_at, ends_at, status="scheduled"):
    publication = Publication.objects.create(
        page=page,
        kind=Publication.Kind.MAINTENANCE,
        title="Database upgrade",
        impact=Impact.MAINTENANCE,
        status=status,
        starts_at=starts_at,
        ends_at=ends_at,
    )
    publication.components.set(components)
    PublicUpdate.objects.create(
        publication=publication,
        status=status,
        impact=Impact.MAINTENANCE,
        body="Trip sync pauses while the database is upgraded.",
        posted_at=NOW - 2 * DAY,
    )
    return publication


def get(client, name, *args, **extra):
    return client.get(reverse(f"statuspage:{name}", args=["fleet", *args]), **extra)


def html(response) -> str:
    return response.content.decode()


# --- The page --------------------------------------------------------------


def test_status_page_is_served_without_sign_in_when_all_is_well(client, page):
    response = get(client, "page")

    text = html(response)
    assert response.status_code == 200
    assert "Fleet Manager" in text
    assert "<h1" in text and "Fleet status" in text
    assert "How trip sync and the dashboard are doing." in text
    assert "All systems operational" in text
    assert ">Tracking</h3>" in text
    assert text.index("Dashboard") < text.index("Tracking") < text.index("GPS feed")
    assert text.count("100.00 % uptime") == 3
    assert "No incidents in the last 14 days." in text
    for address in ("feed.rss", "feed.atom", "status.json"):
        assert f'href="/status/fleet/{address}"' in text
    assert "Sign out" not in text and "Open incidents" not in text
    assert not inline_code(text)


@pytest.mark.parametrize("slug", ["fleet", "nowhere"])
def test_status_page_not_live_or_unknown_is_not_found(client, page, slug):
    page.is_live = False
    page.save()

    for name in ("page", "json", "rss", "atom"):
        response = client.get(reverse(f"statuspage:{name}", args=[slug]))
        assert response.status_code == 404, name


def test_status_page_shows_open_incident_with_posted_updates_newest_first(client, page):
    publish(
        page,
        [component("Trip sync")],
        [
            ("investigating", "major_outage", "Trips are not syncing.", NOW - 2 * HOUR),
            ("identified", "partial_outage", "Found it.\nRolling back.", NOW - HOUR),
            ("monitoring", "degraded", "NOT-YET-POSTED", None),
        ],
    )

    text = html(get(client, "page"))

    assert "Current incidents" in text
    assert "Partial outage" in text  # overall and the component
    assert text.index("Found it.<br>Rolling back.") < text.index(
        "Trips are not syncing."
    )
    assert "Identified" in text and "Investigating" in text
    assert "NOT-YET-POSTED" not in text
    assert "18 Nov 2026, 12:00 CET" in text  # Fleet's zone (UTC+1), not UTC
    assert "All systems operational" not in text


def test_component_status_is_the_worst_open_impact_touching_it(page):
    publish(
        page,
        [component("Trip sync")],
        [("investigating", "degraded", "Slow.", NOW - HOUR)],
        title="Slow sync",
    )
    publish(
        page,
        [component("Trip sync"), component("GPS feed")],
        [("identified", "major_outage", "Down.", NOW - HOUR)],
        title="Sync down",
    )
    publish(
        page,
        [component("Dashboard")],
        [
            ("investigating", "major_outage", "Down.", NOW - 3 * HOUR),
            ("resolved", "operational", "Fixed.", NOW - 2 * HOUR),
        ],
        title="Dashboard down",
    )

    snapshot = selectors.page_snapshot(page=page, now=NOW)

    statuses = {c.name: c.status for c in snapshot.components}
    assert statuses == {
        "Dashboard": "operational",
        "Trip sync": "major_outage",
        "GPS feed": "major_outage",
    }
    assert snapshot.status == "major_outage"
    assert [p.title for p in snapshot.past] == ["Dashboard down"]


@pytest.mark.parametrize(
    ("starts_in", "status", "expected"),
    [
        (2 * HOUR, "scheduled", "operational"),  # announced, not started
        (-HOUR, "scheduled", "maintenance"),  # inside its window
        (2 * HOUR, "in_progress", "maintenance"),  # started early
        (-HOUR, "completed", "operational"),
    ],
)
def test_maintenance_counts_while_in_progress_or_inside_its_window(
    page, starts_in, status, expected
):
    maintenance(
        page,
        [component("Trip sync")],
        starts_at=NOW + starts_in,
        ends_at=NOW + starts_in + 3 * HOUR,
        status=status,
    )

    snapshot = selectors.page_snapshot(page=page, now=NOW)

    assert {c.name: c.status for c in snapshot.components}["Trip sync"] == expected
    assert bool(snapshot.maintenance) == (status != "completed")


def test_maintenance_shows_its_window_in_the_page_zone(client, page):
    maintenance(
        page, [component("Trip sync")], starts_at=NOW + DAY, ends_at=NOW + DAY + HOUR
    )

    text = html(get(client, "page"))

    assert "Scheduled maintenance" in text and "Database upgrade" in text
    assert "19 Nov 2026, 13:00</time> – <time" in text and ">14:00 CET<" in text
    assert "All systems operational" in text


def test_uptime_counts_major_minutes_fully_and_partial_at_30_percent(page):
    page.time_zone = "UTC"
    page.save()
    start = dt.datetime(2026, 11, 10, 8, 0, tzinfo=dt.UTC)
    publish(
        page,
        [component("Trip sync")],
        [
            ("investigating", "major_outage", "Down.", start),
            ("identified", "partial_outage", "Some trips.", start + 2 * HOUR),
            ("monitoring", "degraded", "Catching up.", start + 12 * HOUR),
            ("resolved", "operational", "Fixed.", start + 13 * HOUR),
        ],
    )

    snapshot = selectors.page_snapshot(page=page, now=NOW)

    sync = {c.name: c for c in snapshot.components}["Trip sync"]
    # 89.5 days so far; 120 major minutes + 30 % of 600 partial ones.
    down, total = 120 + 0.3 * 600, 89.5 * 24 * 60
    assert sync.uptime == "99.76" == f"{int((1 - down / total) * 10000) / 100:.2f}"
    day = {d.date: d for d in sync.days}[dt.date(2026, 11, 10)]
    assert day.impact == "major_outage"
    assert day.text == (
        "Tue 10 Nov 2026: major outage for 2 h, partial outage for 10 h, "
        "degraded performance for 1 h (Trip sync delays)"
    )
    assert {c.name: c.uptime for c in snapshot.components}["GPS feed"] == "100.00"
    assert len(sync.days) == 90 and sync.days[-1].date == dt.date(2026, 11, 18)


def test_uptime_days_are_the_page_zone_days(page):
    page.time_zone = "Asia/Tokyo"
    page.save()
    late = dt.datetime(2026, 11, 10, 22, 0, tzinfo=dt.UTC)  # 11 Nov, 07:00 there
    publish(
        page,
        [component("Dashboard")],
        [
            ("investigating", "degraded", "Slow.", late),
            ("resolved", "operational", "Fixed.", late + HOUR),
        ],
    )

    snapshot = selectors.page_snapshot(page=page, now=NOW)

    days = {d.date: d.impact for d in snapshot.components[0].days}
    assert days[dt.date(2026, 11, 11)] == "degraded"
    assert days[dt.date(2026, 11, 10)] == "operational"
    assert snapshot.components[0].days[-1].date == dt.date(2026, 11, 18)


def test_overlapping_incidents_are_not_counted_twice(page):
    page.time_zone = "UTC"
    page.save()
    start = NOW - 3 * DAY
    for title in ("First", "Second"):
        publish(
            page,
            [component("Dashboard")],
            [
                ("investigating", "major_outage", "Down.", start),
                ("resolved", "operational", "Fixed.", start + HOUR),
            ],
            title=title,
        )

    snapshot = selectors.page_snapshot(page=page, now=NOW)

    day = snapshot.components[0].days[-4]
    assert day.text.endswith("major outage for 1 h (First; Second)")
    assert snapshot.components[0].uptime == f"{(1 - 60 / (89.5 * 1440)) * 100:.2f}"


def test_past_incidents_list_the_last_14_days_only(client, page):
    for title, ago in (("Recent one", 3 * DAY), ("Old one", 20 * DAY)):
        publish(
            page,
            [component("Dashboard")],
            [
                ("investigating", "partial_outage", "Broken.", NOW - ago),
                ("resolved", "operational", "Fixed.", NOW - ago + HOUR),
            ],
            title=title,
        )

    text = html(get(client, "page"))

    assert "Recent one" in text
    assert "Old one</a>" not in text
    assert "partial outage for 1 h (Old one)" in text  # its day's bar


# --- One publication -------------------------------------------------------


def test_publication_detail_shows_its_posted_updates(client, page):
    publication = publish(
        page,
        [component("Trip sync")],
        [
            ("investigating", "major_outage", "Down.", NOW - 2 * HOUR),
            ("resolved", "operational", "Fixed for good.", NOW - HOUR),
            ("resolved", "operational", "NOT-YET-POSTED", None),
        ],
    )

    response = get(client, "publication", publication.pk)

    text = html(response)
    assert response.status_code == 200
    assert "Trip sync delays" in text and "Fixed for good." in text
    assert text.index("Fixed for good.") < text.index("Down.")
    assert "NOT-YET-POSTED" not in text
    assert "Resolved" in text and "Trip sync" in text


def test_publication_detail_is_not_found_unposted_or_elsewhere(client, page):
    unposted = publish(
        page, [component("Trip sync")], [("investigating", "degraded", "x", None)]
    )
    other = StatusPage.objects.create(name="Other", slug="other", brand_text="O")
    elsewhere = publish(other, [], [("investigating", "degraded", "x", NOW)])

    assert get(client, "publication", unposted.pk).status_code == 404
    assert get(client, "publication", elsewhere.pk).status_code == 404


# --- JSON and feeds --------------------------------------------------------


def test_status_json_carries_status_components_incidents_and_maintenance(client, page):
    publication = publish(
        page,
        [component("Trip sync")],
        [
            ("investigating", "major_outage", "Down.", NOW - HOUR),
            ("identified", "partial_outage", "Found it.", NOW - HOUR / 2),
        ],
    )
    window = maintenance(
        page, [component("GPS feed")], starts_at=NOW + DAY, ends_at=NOW + DAY + HOUR
    )

    response = get(client, "json")

    data = json.loads(response.content)
    assert response["Content-Type"] == "application/json"
    assert data["page"] == {
        "name": "Fleet status",
        "url": "http://testserver/status/fleet/",
        "time_zone": "Europe/Berlin",
        "updated_at": "2026-11-18T12:00:00Z",
    }
    assert data["status"] == {
        "indicator": "partial_outage",
        "description": "Partial outage",
    }
    assert {c["name"]: (c["group"], c["status"]) for c in data["components"]} == {
        "Dashboard": (None, "operational"),
        "Trip sync": ("Tracking", "partial_outage"),
        "GPS feed": ("Tracking", "operational"),
    }
    (incident,) = data["incidents"]
    assert incident == {
        "id": publication.pk,
        "title": "Trip sync delays",
        "status": "identified",
        "impact": "partial_outage",
        "started_at": "2026-11-18T11:00:00Z",
        "resolved_at": None,
        "components": [component("Trip sync").pk],
        "updates": [
            {
                "status": "identified",
                "body": "Found it.",
                "posted_at": "2026-11-18T11:30:00Z",
            },
            {
                "status": "investigating",
                "body": "Down.",
                "posted_at": "2026-11-18T11:00:00Z",
            },
        ],
    }
    (planned,) = data["maintenance"]
    assert (planned["id"], planned["scheduled_for"], planned["scheduled_until"]) == (
        window.pk,
        "2026-11-19T12:00:00Z",
        "2026-11-19T13:00:00Z",
    )


@pytest.mark.parametrize(
    ("name", "content_type"),
    [("rss", "application/rss+xml"), ("atom", "application/atom+xml")],
)
def test_feeds_carry_the_latest_posted_updates(client, page, name, content_type):
    publication = publish(
        page,
        [component("Trip sync")],
        [
            ("investigating", "major_outage", "Trips are not syncing.", NOW - HOUR),
            ("identified", "major_outage", "Found it.\nRolling back.", NOW),
            ("monitoring", "degraded", "NOT-YET-POSTED", None),
        ],
    )
    newest = publication.updates.get(status="identified")

    response = get(client, name)

    text = html(response)
    assert response["Content-Type"].startswith(content_type)
    assert "Trip sync delays: Identified" in text
    assert "Trip sync delays: Investigating" in text
    assert text.index("Found it.") < text.index("Trips are not syncing.")
    assert "NOT-YET-POSTED" not in text
    assert f"urn:switchboard:status-update:{newest.pk}" in text
    assert f"http://testserver/status/fleet/incidents/{publication.pk}/" in text


def test_feeds_stop_at_the_50_latest_updates(client, page):
    publish(
        page,
        [component("Dashboard")],
        [
            ("investigating", "degraded", f"Update number {n}.", NOW - n * HOUR)
            for n in range(60, 0, -1)
        ],
    )

    text = html(get(client, "rss"))

    assert text.count("<item>") == 50
    assert "Update number 1." in text and "Update number 51." not in text


# --- Nothing internal, ever -------------------------------------------------


@pytest.fixture
def fleet_sev1(page):
    owner = UserFactory(
        username="internal-marker-owner",
        first_name="INTERNAL-MARKER-owner-first",
        last_name="INTERNAL-MARKER-owner-last",
        email="internal-marker-owner@example.com",
    )
    return IncidentFactory(
        priority=Priority.P1,
        category=Category.objects.get(slug="sync"),
        customer=CustomerFactory(
            name="INTERNAL-MARKER-customer-name",
            email="internal-marker-customer@example.com",
            account_id="INTERNAL-MARKER-ACC",
            policy=Policy.objects.get(name="Fleet SaaS"),
        ),
        title="INTERNAL-MARKER-incident-title",
        what_happened="INTERNAL-MARKER-what-happened",
        customer_summary="INTERNAL-MARKER-customer-summary",
        fix_summary="INTERNAL-MARKER-fix-summary",
        root_cause="INTERNAL-MARKER-root-cause",
        priority_reason="INTERNAL-MARKER-priority-reason",
        is_partner_action_needed=True,
        partner_action_details="INTERNAL-MARKER-partner",
        is_vendor_action_needed=True,
        vendor_action_details="INTERNAL-MARKER-vendor",
        is_engineering_action_needed=True,
        engineering_action_details="INTERNAL-MARKER-engineering",
        owner=owner,
        status="investigating",
    )


def _post(incident, actor, body, *, page):
    return services.publish_from_incident(
        incident=incident,
        actor=actor,
        page=page,
        components=[component("Trip sync")],
        impact=Impact.MAJOR_OUTAGE,
        status="investigating",
        title="Trip sync: major outage",
        body=body,
    )


def _deliver(django_capture_on_commit_callbacks, act):
    with django_capture_on_commit_callbacks(execute=True):
        return act()


def test_a_post_shows_once_approved_and_delivered_and_not_before(
    client,
    page,
    fleet_sev1,
    agent,
    manager,
    q2_sync,
    django_capture_on_commit_callbacks,
    time_machine,
):
    update = _deliver(
        django_capture_on_commit_callbacks,
        lambda: _post(fleet_sev1, agent, "Trip logs are delayed.", page=page),
    )
    assert update.message.status == Message.Status.AWAITING_APPROVAL

    waiting = html(get(client, "page"))

    time_machine.move_to(NOW + dt.timedelta(minutes=5), tick=False)
    _deliver(
        django_capture_on_commit_callbacks,
        lambda: comms_services.approve_message(message=update.message, actor=manager),
    )
    posted = html(get(client, "page"))

    assert "Trip logs are delayed." not in waiting
    assert "All systems operational" in waiting
    assert "Trip logs are delayed." in posted
    assert "Trip sync: major outage" in posted
    assert "All systems operational" not in posted


def test_nothing_internal_shows_on_any_public_address(
    client,
    page,
    fleet_sev1,
    agent,
    manager,
    q2_sync,
    django_capture_on_commit_callbacks,
):
    posted = _deliver(
        django_capture_on_commit_callbacks,
        lambda: _post(fleet_sev1, agent, "PUBLIC-BODY: trips are delayed.", page=page),
    )
    _deliver(
        django_capture_on_commit_callbacks,
        lambda: comms_services.approve_message(message=posted.message, actor=manager),
    )
    rejected = _post(fleet_sev1, agent, "INTERNAL-MARKER-rejected-post", page=page)
    comms_services.reject_message(
        message=rejected.message, actor=manager, reason="INTERNAL-MARKER-reason"
    )
    waiting = _post(fleet_sev1, agent, "INTERNAL-MARKER-awaiting-post", page=page)
    PublicUpdate.objects.create(
        publication=posted.publication,
        status="identified",
        impact="major_outage",
        body="INTERNAL-MARKER-unposted-update",
    )
    posted.refresh_from_db()
    rejected.message.refresh_from_db()
    assert posted.posted_at and waiting.message.status == "awaiting_approval"
    assert rejected.message.status == Message.Status.REJECTED
    reference = fleet_sev1.reference
    pk = posted.publication_id

    for name, args in [
        ("page", []),
        ("publication", [pk]),
        ("json", []),
        ("rss", []),
        ("atom", []),
    ]:
        response = get(client, name, *args)
        text = html(response)
        assert response.status_code == 200, name
        assert "PUBLIC-BODY: trips are delayed." in text, name
        assert "internal-marker" not in text.lower(), name
        assert reference not in text, name


# --- Fast and cacheable ----------------------------------------------------


@pytest.mark.parametrize("name", ["page", "json", "rss", "atom", "publication"])
def test_answers_are_cacheable_and_a_conditional_get_is_answered_304(
    client, page, name
):
    publication = publish(
        page, [component("Dashboard")], [("investigating", "degraded", "Slow.", NOW)]
    )
    args = [publication.pk] if name == "publication" else []

    first = get(client, name, *args)
    again = get(client, name, *args, HTTP_IF_NONE_MATCH=first["ETag"])
    since = get(client, name, *args, HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])

    assert first.status_code == 200
    assert first["Cache-Control"] == "public, max-age=30"
    assert first["ETag"].startswith('"')
    assert "cookie" not in first.get("Vary", "").lower()
    assert again.status_code == since.status_code == 304
    assert again["ETag"] == first["ETag"]
    assert again["Cache-Control"] == "public, max-age=30"


def test_a_warm_request_reads_only_the_page_row(
    client, page, django_assert_num_queries
):
    publish(page, [component("Dashboard")], [("investigating", "degraded", "x", NOW)])
    get(client, "page")

    with django_assert_num_queries(1):
        response = get(client, "page")

    assert response.status_code == 200


def test_a_new_post_shows_at_once_despite_the_cache(client, page, time_machine):
    before = get(client, "page")
    time_machine.move_to(NOW + dt.timedelta(seconds=5), tick=False)

    publication = publish(
        page, [component("Dashboard")], [("investigating", "degraded", "Slow.", NOW)]
    )
    after = get(client, "page", HTTP_IF_NONE_MATCH=before["ETag"])

    assert after.status_code == 200
    assert "Slow." in html(after)
    assert publication.title in html(after)


def test_the_bars_move_on_at_midnight_in_the_page_zone(client, page, time_machine):
    first = get(client, "page")
    # Fleet's midnight: 23:00 UTC in November.
    time_machine.move_to(dt.datetime(2026, 11, 18, 23, 30, tzinfo=dt.UTC), tick=False)

    later = get(client, "page", HTTP_IF_NONE_MATCH=first["ETag"])

    assert later.status_code == 200
    assert "Thu 19 Nov 2026: no incidents" in html(later)


def test_maintenance_shows_as_its_window_opens_without_a_new_post(
    client, page, time_machine
):
    maintenance(
        page,
        [component("Trip sync")],
        starts_at=NOW + HOUR,
        ends_at=NOW + 2 * HOUR,
    )
    assert "All systems operational" in html(get(client, "page"))
    time_machine.move_to(NOW + HOUR + dt.timedelta(minutes=1), tick=False)

    assert "Maintenance in progress" in html(get(client, "page"))


def _grow(page, size):
    """Give the page ``size`` groups, components and publications."""
    for n in range(size):
        group = ComponentGroup.objects.create(page=page, name=f"Group {n}")
        parts = [
            Component.objects.create(page=page, name=f"Part {n}.{m}", group=group)
            for m in range(3)
        ]
        publish(
            page,
            parts,
            [
                ("investigating", "major_outage", f"Down {n}.", NOW - (n + 3) * HOUR),
                ("identified", "partial_outage", f"Found {n}.", NOW - (n + 2) * HOUR),
                ("monitoring", "degraded", f"Better {n}.", NOW - (n + 1) * HOUR),
            ]
            + (
                [("resolved", "operational", "Fixed.", NOW - n * HOUR)] if n % 2 else []
            ),
            title=f"Incident {n}",
        )
        maintenance(
            page, parts[:1], starts_at=NOW + n * DAY, ends_at=NOW + n * DAY + HOUR
        )


# page: the page, groups, components, publications, their components, their
# posted updates, those updates' components. A publication: the page, it,
# its components, updates, their components. A feed: the page, its updates.
COLD_QUERIES = {"page": 7, "json": 7, "rss": 2, "atom": 2, "publication": 5}


@pytest.mark.parametrize("size", [1, 12])
@pytest.mark.parametrize("name", ["page", "json", "rss", "atom", "publication"])
def test_query_count_does_not_grow_with_the_page(client, page, size, name):
    _grow(page, size)
    publication = Publication.objects.filter(kind="incident").first()
    args = [publication.pk] if name == "publication" else []
    cache.clear()

    with CaptureQueriesContext(connection) as cold:
        response = get(client, name, *args)
    with CaptureQueriesContext(connection) as warm:
        get(client, name, *args)

    assert response.status_code == 200
    assert len(cold.captured_queries) == COLD_QUERIES[name]
    assert len(warm.captured_queries) == 1


def test_the_subscribe_form_is_left_out_until_its_template_exists(
    client, page, monkeypatch
):
    monkeypatch.setattr(
        public_views, "SUBSCRIBE_TEMPLATE", "statuspage/public/_missing.html"
    )

    text = html(get(client, "page"))

    assert 'id="subscribe"' not in text
    assert "Subscribe to updates" not in text


# --- Its own host name ------------------------------------------------------


@pytest.fixture
def own_host(page, settings):
    settings.ALLOWED_HOSTS = ["testserver", "status.fleet.example"]
    page.host = "status.fleet.example"
    page.save()
    return {"HTTP_HOST": "status.fleet.example"}


def test_own_host_serves_the_page_at_its_root(client, own_host):
    response = client.get("/", **own_host)

    text = html(response)
    assert response.status_code == 200
    assert "Fleet status" in text
    assert 'href="/feed.rss"' in text and 'href="/status.json"' in text


def test_own_host_maps_the_public_addresses(client, page, own_host):
    publication = publish(
        page, [component("Dashboard")], [("investigating", "degraded", "Slow.", NOW)]
    )

    detail = client.get(f"/incidents/{publication.pk}/", **own_host)
    data = json.loads(client.get("/status.json", **own_host).content)
    feed = html(client.get("/feed.atom", **own_host))
    reversed_link = client.get(f"/status/fleet/incidents/{publication.pk}/", **own_host)

    assert detail.status_code == reversed_link.status_code == 200
    assert 'href="/"' in html(detail)
    assert data["page"]["url"] == "http://status.fleet.example/"
    assert f"http://status.fleet.example/incidents/{publication.pk}/" in feed
    assert client.get("/feed.rss", **own_host).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/login/",
        "/admin/",
        "/incidents/",
        "/me/",
        "/status/other/",
        "/status/fleet/../../admin/",
        "/survey/abc/",
        "/favicon.ico",
    ],
)
def test_own_host_refuses_everything_else(client, agent, own_host, path):
    client.force_login(agent)

    response = client.get(path, **own_host)

    assert response.status_code == 404


def test_own_host_of_a_page_taken_off_line_shows_neither_page_nor_portal(
    client, page, own_host
):
    page.is_live = False
    page.save()

    assert client.get("/", **own_host).status_code == 404
    assert client.get("/login/", **own_host).status_code == 404


def test_own_host_leaves_static_files_to_whitenoise(rf, own_host):
    seen = []
    host_middleware = middleware.StatusPageHostMiddleware(
        lambda request: seen.append(request.path_info) or HttpResponse()
    )

    host_middleware(rf.get("/static/css/statuspage.css", **own_host))
    host_middleware(rf.get("/", **own_host))

    assert seen == ["/static/css/statuspage.css", "/status/fleet/"]


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("status.fleet.example", True),
        ("testserver", False),
        ("localhost", False),
        ("127.0.0.1", False),
        ("[::1]", False),
    ],
)
def test_only_dns_names_are_looked_up_as_page_hosts(host, expected):
    assert middleware.could_be_page_host(host) is expected


def test_the_portal_host_is_untouched(client, own_host):
    assert client.get(reverse("login")).status_code == 200
    assert client.get("/").status_code == 302  # to sign in
    assert get(client, "page").status_code == 200


def test_the_host_names_are_read_once_a_minute(client, own_host, time_machine):
    client.get("/", **own_host)

    with CaptureQueriesContext(connection) as warm:
        client.get("/", **own_host)
    time_machine.move_to(NOW + dt.timedelta(seconds=61), tick=False)
    with CaptureQueriesContext(connection) as later:
        client.get("/", **own_host)

    assert len(warm.captured_queries) == 1  # the page row
    assert len(later.captured_queries) == 2  # and the host names again


def test_public_markup_holds_no_inline_code_and_labels_its_bars(client, page):
    publication = publish(
        page, [component("Dashboard")], [("investigating", "degraded", "x", NOW - HOUR)]
    )

    status = html(get(client, "page"))
    detail = html(get(client, "publication", publication.pk))

    assert not inline_code(status) and not inline_code(detail)
    assert status.count('<ol class="sp-bar" aria-label="') == 3
    assert re.search(r'title="Wed 18 Nov 2026: degraded performance for \d', status)
