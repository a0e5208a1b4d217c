"""The Closure tab: permissions, messages and a constant query count."""

import re

import pytest
from django.urls import reverse

from incidents import services
from incidents.models import IncidentChecklistItem
from tests.factories import (
    ChecklistTemplateItemFactory,
    IncidentFactory,
    settle_checklists,
)


def _resolved(agent, **kwargs):
    incident = IncidentFactory(status="investigating", **kwargs)
    return services.resolve_incident(
        incident=incident,
        actor=agent,
        root_cause="Queue stalled.",
        fix_summary="Queue restarted.",
        customer_summary="Your eSIM stalled.",
        verification=["system_check"],
    )


@pytest.mark.django_db
def test_closure_page_query_count_does_not_grow_with_items(
    agent, agent_client, django_assert_max_num_queries
):
    small = _resolved(agent)
    with django_assert_max_num_queries(40) as few:
        agent_client.get(reverse("incidents:closure", args=[small.pk]))
    for _ in range(10):
        ChecklistTemplateItemFactory()
    big = _resolved(
        agent, is_partner_action_needed=True, partner_action_details="Re-push"
    )

    with django_assert_max_num_queries(len(few.captured_queries)):
        response = agent_client.get(reverse("incidents:closure", args=[big.pk]))

    assert response.status_code == 200
    assert b"Partner: resolution confirmation" in response.content


@pytest.mark.django_db
def test_not_applicable_without_reason_is_refused_on_the_page(agent, agent_client):
    incident = _resolved(agent)
    item = IncidentChecklistItem.objects.filter(
        checklist__incident=incident, state="open", evidence="none"
    ).first()

    response = agent_client.post(
        reverse("incidents:checklist_not_applicable", args=[incident.pk, item.pk]),
        {"reason": ""},
        follow=True,
    )

    item.refresh_from_db()
    assert item.state == "open"
    assert "Say why" in response.content.decode()


@pytest.mark.django_db
def test_close_button_lists_what_is_missing(agent, agent_client):
    incident = _resolved(agent)

    response = agent_client.post(
        reverse("incidents:close", args=[incident.pk]),
        {"version": incident.version},
        follow=True,
    )

    incident.refresh_from_db()
    assert incident.status == "resolved"
    assert "still missing" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("version", [None, "abc", "0", "-3"])
def test_a_close_without_the_pages_version_is_refused_not_unchecked(
    agent, manager, client, version
):
    incident = _resolved(agent)
    settle_checklists(incident)
    client.force_login(manager)

    response = client.post(
        reverse("incidents:close", args=[incident.pk]),
        {} if version is None else {"version": version},
        follow=True,
    )

    incident.refresh_from_db()
    assert incident.status == "resolved"
    assert "reload it" in response.content.decode()


@pytest.mark.django_db
def test_an_oversized_note_on_a_tick_is_refused_naming_the_note(agent, agent_client):
    incident = _resolved(agent)
    item = IncidentChecklistItem.objects.filter(
        checklist__incident=incident, state="open", evidence="none"
    ).first()

    response = agent_client.post(
        reverse("incidents:checklist_tick", args=[incident.pk, item.pk]),
        {"note": "x" * 1_000_000},
        follow=True,
    )

    item.refresh_from_db()
    assert item.state == "open"
    assert "Note: Ensure this value has at most" in response.content.decode()


@pytest.mark.django_db
def test_status_form_close_goes_through_the_guard(agent, agent_client):
    incident = _resolved(agent)

    agent_client.post(
        reverse("incidents:move", args=[incident.pk]),
        {"to_status": "closed", "version": incident.version},
    )

    incident.refresh_from_db()
    assert incident.status == "resolved"
    assert incident.timeline_events.filter(kind="close_refused").exists()


@pytest.mark.django_db
def test_working_the_checklist_needs_the_permission(client, user_without_role, agent):
    incident = _resolved(agent)
    item = IncidentChecklistItem.objects.filter(
        checklist__incident=incident, state="open", evidence="none"
    ).first()
    client.force_login(user_without_role)

    response = client.post(
        reverse("incidents:checklist_tick", args=[incident.pk, item.pk])
    )

    assert response.status_code == 403


@pytest.mark.django_db
def test_without_javascript_a_tick_brings_the_reader_back_to_the_item(
    agent, agent_client
):
    incident = _resolved(agent)
    item = IncidentChecklistItem.objects.filter(
        checklist__incident=incident, state="open", evidence="none"
    ).first()

    response = agent_client.post(
        reverse("incidents:checklist_tick", args=[incident.pk, item.pk])
    )

    item.refresh_from_db()
    assert item.state == "done"
    assert response.url.endswith(f"/closure/#item-{item.pk}")


@pytest.mark.django_db
def test_the_resolve_form_shows_the_open_summary_without_prefilling_it(
    agent, agent_client
):
    incident = IncidentFactory(
        status="investigating",
        fix_summary="Noted while fixing: restart the queue.",
        customer_summary="Live vehicle positions are not showing <b>now</b>.",
    )

    page = agent_client.get(reverse("incidents:closure", args=[incident.pk]))
    box = re.search(
        r'<textarea([^>]*name="customer_summary"[^>]*)>(.*?)</textarea>',
        page.content.decode(),
        re.S,
    )
    assert box.group(2).strip() == ""
    assert (
        'placeholder="Live vehicle positions are not showing &lt;b&gt;now&lt;/b&gt;."'
        in box.group(1)
    )
    assert "<b>now</b>" not in page.content.decode()

    refused = agent_client.post(
        reverse("incidents:resolve", args=[incident.pk]),
        {
            "root_cause": "A stuck queue.",
            "fix_summary": "We restarted the queue.",
            "verification": ["system_check"],
            "customer_summary": "",
            "version": incident.version,
        },
    )
    assert refused.status_code == 400
    incident.refresh_from_db()
    assert incident.status == "investigating"


@pytest.mark.django_db
def test_a_reopened_incident_offers_the_summary_already_reworded(agent, agent_client):
    incident = _resolved(agent)
    services.move_incident(incident=incident, actor=agent, to_status="investigating")

    page = agent_client.get(reverse("incidents:closure", args=[incident.pk]))
    box = re.search(
        r'<textarea[^>]*name="customer_summary"[^>]*>(.*?)</textarea>',
        page.content.decode(),
        re.S,
    )
    assert box.group(1).strip() == "Your eSIM stalled."
