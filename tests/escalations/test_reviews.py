"""Reviews: what a period held, the findings and the actions with owners."""

import datetime as dt

import pytest
from django.urls import reverse

from escalations.models import Review, ReviewAction, Tier
from tests.factories import IncidentFactory, UserFactory, request_test_escalation

pytestmark = pytest.mark.django_db


def _post(client, **overrides):
    data = {
        "kind": "weekly",
        "policy": "",
        "period_start_on": "2026-11-12",
        "period_end_on": "2026-11-18",
        "findings": "Two P1s on eSIM; both breached first response.",
        "actions-TOTAL_FORMS": "3",
        "actions-INITIAL_FORMS": "0",
        "actions-MIN_NUM_FORMS": "0",
        "actions-MAX_NUM_FORMS": "1000",
        "actions-0-what": "Add an eSIM provisioning check to the runbook",
        "actions-0-owner": "",
        "actions-0-due_on": "2026-11-25",
        "record": "1",
    }
    data.update(overrides)
    return client.post(reverse("escalations:review_new"), data)


def test_a_manager_gathers_items_and_records_a_review(client, manager, frozen_now):
    severe = IncidentFactory(priority="P1", title="eSIM outage")
    Tier.objects.get(policy=severe.policy, key="l2").members.add(
        UserFactory(role="Senior agent")
    )
    request_test_escalation(severe, manager)
    quiet = IncidentFactory(priority="P1", title="Not escalated")
    client.force_login(manager)
    page = client.post(
        reverse("escalations:review_new"),
        {
            "kind": "weekly",
            "period_start_on": "2026-11-12",
            "period_end_on": "2026-11-18",
            "actions-TOTAL_FORMS": "0",
            "actions-INITIAL_FORMS": "0",
            "gather": "1",
        },
    )
    assert severe.reference in page.content.decode()
    assert quiet.reference not in page.content.decode()
    assert not Review.objects.exists()
    response = _post(client, **{"actions-0-owner": manager.pk})
    review = Review.objects.get()
    assert response.status_code == 302
    assert review.held_by == manager
    (action,) = review.actions.all()
    assert (action.owner, action.due_on) == (manager, dt.date(2026, 11, 25))
    detail = client.get(reverse("escalations:review_detail", args=[review.pk]))
    assert "eSIM provisioning check" in detail.content.decode()
    assert severe.reference in detail.content.decode()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"actions-0-due_on": "2026-11-01"}, "due in the past"),
        ({"period_end_on": "2026-11-30"}, "cannot end after today"),
        ({"period_end_on": "2026-11-01"}, ""),
    ],
)
def test_bad_reviews_are_refused_and_nothing_is_kept(
    client, manager, frozen_now, overrides, message
):
    client.force_login(manager)
    response = _post(client, **{"actions-0-owner": manager.pk, **overrides})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Review.objects.exists() and not ReviewAction.objects.exists()


def test_an_action_without_an_owner_is_refused(client, manager, frozen_now):
    client.force_login(manager)
    response = _post(client)
    assert response.status_code == 200
    assert "This field is required" in response.content.decode()
    assert not Review.objects.exists()


def test_agents_cannot_hold_reviews(agent_client, agent, frozen_now):
    assert agent_client.get(reverse("escalations:review_new")).status_code == 403
    assert _post(agent_client, **{"actions-0-owner": agent.pk}).status_code == 403
    assert not Review.objects.exists()


def test_the_owner_marks_an_action_done(client, manager, agent, frozen_now):
    client.force_login(manager)
    _post(client, **{"actions-0-owner": agent.pk})
    action = ReviewAction.objects.get()
    client.force_login(agent)
    response = client.post(reverse("escalations:review_action_done", args=[action.pk]))
    assert response.status_code == 302
    assert client.get(response.url).status_code == 200
    action.refresh_from_db()
    assert action.is_done


@pytest.mark.django_db
def test_kb_gaps_list_closed_incidents_once_and_the_board_counts_open_ones(
    agent, manager, frozen_now
):
    from escalations import selectors
    from escalations.metrics import Period, dashboard
    from incidents import services
    from incidents.models import IncidentChecklistItem
    from tests.factories import settle_checklists

    UserFactory(username="l2-member", role="Senior agent")
    still_open = IncidentFactory(status="investigating")
    closed = IncidentFactory(status="investigating")
    for incident in (still_open, closed):
        request_test_escalation(incident, agent)
        services.move_incident(incident=incident, actor=None, to_status="resolved")
    for incident in (still_open, closed):
        services.refresh_checklists(incident=incident, actor=None)
        for item in IncidentChecklistItem.objects.filter(
            checklist__incident=incident, text__startswith="Knowledge base"
        ):
            services.mark_checklist_item_not_applicable(
                item=item, actor=manager, reason="No time"
            )
        settle_checklists(incident)
    services.move_incident(incident=closed, actor=None, to_status="closed")
    period = Period(
        start=frozen_now - dt.timedelta(days=1),
        end=frozen_now + dt.timedelta(days=1),
        now=frozen_now,
    )

    gaps, count = selectors.review_items(period)["kb_gaps"]
    board = dashboard(period)

    assert [item.checklist.incident for item in gaps] == [closed]
    assert count == 1
    assert sum(row["count"] for row in board.escalations["open_by_priority"]) == 1
