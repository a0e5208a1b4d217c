"""Post-mortems: a timeline that writes itself, findings, actions, review."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from incidents import services
from incidents.models import (
    ActionItem,
    Incident,
    PostMortem,
    PostMortemTimelineRow,
    Priority,
    TimelineEvent,
)
from tests.assertions import error_codes
from tests.factories import (
    IncidentFactory,
    UserFactory,
    publishable_postmortem,
    settle_checklists,
)

T0 = dt.datetime(2026, 11, 18, 9, 0, tzinfo=dt.UTC)


def _sent(incident, audience, stage, subject, at):
    # As comms records a delivered message (contract: message, audience,
    # channel, subject, stage).
    services.record_timeline_event(
        incident=incident,
        kind=TimelineEvent.Kind.MESSAGE_SENT,
        actor=None,
        at=at,
        details={
            "message": 1,
            "audience": audience,
            "channel": "email" if audience != "internal" else "chat",
            "subject": subject,
            "stage": stage,
        },
    )


def _minutes(n):
    return T0 + dt.timedelta(minutes=n)


@pytest.fixture
def scripted_incident(time_machine, agent):
    """A P1 from first alert to close, each step at a known minute."""
    time_machine.move_to(T0, tick=False)
    incident = IncidentFactory(
        priority=Priority.P1,
        owner=agent,
        is_partner_action_needed=True,
        partner_action_details="Reset the eSIM profile.",
    )
    _sent(incident, "internal", "creation", "New P1", _minutes(2))
    _sent(incident, "customer", "creation", "We are on it", _minutes(10))
    _sent(incident, "partner", "creation", "Please investigate", _minutes(15))
    time_machine.move_to(_minutes(90), tick=False)
    incident = services.edit_incident_details(
        incident=incident,
        actor=agent,
        expected_version=incident.version,
        changes={"root_cause": "The partner's profile server rejected renewals."},
    )
    time_machine.move_to(_minutes(120), tick=False)
    services.move_incident(incident=incident, actor=agent, to_status="investigating")
    services.move_incident(incident=incident, actor=agent, to_status="monitoring")
    time_machine.move_to(_minutes(180), tick=False)
    services.move_incident(incident=incident, actor=agent, to_status="resolved")
    _sent(incident, "internal", "resolution", "Resolved", _minutes(181))
    _sent(incident, "customer", "resolution", "Fixed", _minutes(185))
    _sent(incident, "partner", "resolution", "Thanks", _minutes(190))
    time_machine.move_to(_minutes(300), tick=False)
    settle_checklists(incident)
    services.move_incident(incident=incident, actor=agent, to_status="closed")
    incident.refresh_from_db()
    return incident


@pytest.mark.django_db
def test_start_postmortem_writes_the_timeline_from_the_incident(
    scripted_incident, agent
):
    postmortem = services.start_postmortem(incident=scripted_incident, actor=agent)

    rows = [
        (row.milestone, row.at)
        for row in postmortem.timeline_rows.order_by("at", "position")
    ]
    assert rows == [
        ("detected", T0),
        ("internal_alert", _minutes(2)),
        ("customer_notified", _minutes(10)),
        ("party_engaged", _minutes(15)),
        ("root_cause", _minutes(90)),
        ("fix_applied", _minutes(120)),
        ("verified", _minutes(180)),
        ("stakeholders_notified", _minutes(190)),
        ("closed", _minutes(300)),
    ]
    texts = {r.milestone: r.text for r in postmortem.timeline_rows.all()}
    assert texts["root_cause"].startswith("Root cause identified: The partner's")
    assert texts["detected"] == "Issue first detected by a report"
    assert all(r.source_event_id for r in postmortem.timeline_rows.all())


@pytest.mark.django_db
def test_the_timeline_shows_the_escalations_and_the_carrier_engaged(
    time_machine, agent
):
    # As escalations record them (contract: escalation, tier, path).
    time_machine.move_to(T0, tick=False)
    incident = IncidentFactory(priority=Priority.P2)
    for minute, kind, tier, path in (
        (20, TimelineEvent.Kind.ESCALATION_REQUESTED, "L2 · Senior support", "l2"),
        (50, TimelineEvent.Kind.ESCALATION_TRIGGERED, "Engineering", "engineering"),
        (
            70,
            TimelineEvent.Kind.ESCALATION_REQUESTED,
            "Carrier · ConnectX / AT&T",
            "carrier",
        ),
    ):
        services.record_timeline_event(
            incident=incident,
            kind=kind,
            actor=agent,
            at=_minutes(minute),
            details={"escalation": minute, "tier": tier, "path": path},
        )
    time_machine.move_to(_minutes(90), tick=False)

    postmortem = services.start_postmortem(incident=incident, actor=agent)

    rows = {r.milestone: (r.at, r.text) for r in postmortem.timeline_rows.all()}
    assert rows["escalated"] == (
        _minutes(20),
        "Escalated to L2 · Senior support; later to Engineering, "
        "Carrier · ConnectX / AT&T",
    )
    assert rows["party_engaged"] == (
        _minutes(70),
        "Carrier engaged: escalated to Carrier · ConnectX / AT&T",
    )


@pytest.mark.django_db
def test_start_postmortem_records_the_contract_event(scripted_incident, agent):
    postmortem = services.start_postmortem(
        incident=scripted_incident, actor=agent, scheduled_on=dt.date(2026, 11, 20)
    )

    event = TimelineEvent.objects.filter(
        incident=scripted_incident, kind=TimelineEvent.Kind.POSTMORTEM_CHANGED
    ).get()
    assert event.details["postmortem"] == postmortem.pk
    assert event.details["status"] == "draft"
    assert event.details["scheduled_on"] == "2026-11-20"
    assert event.actor == agent


@pytest.mark.django_db
def test_stakeholders_row_waits_for_every_audience(time_machine, agent):
    time_machine.move_to(T0, tick=False)
    incident = IncidentFactory(priority=Priority.P2)
    _sent(incident, "internal", "creation", "New", _minutes(1))
    _sent(incident, "customer", "creation", "On it", _minutes(2))
    _sent(incident, "internal", "resolution", "Done", _minutes(30))
    time_machine.move_to(_minutes(40), tick=False)

    postmortem = services.start_postmortem(incident=incident, actor=agent)

    milestones = set(postmortem.timeline_rows.values_list("milestone", flat=True))
    assert "stakeholders_notified" not in milestones


@pytest.mark.django_db
def test_refresh_adds_new_moments_and_keeps_edited_rows(time_machine, agent):
    time_machine.move_to(T0, tick=False)
    incident = IncidentFactory(priority=Priority.P1)
    postmortem = services.start_postmortem(incident=incident, actor=agent)
    detected = postmortem.timeline_rows.get(milestone="detected")
    services.edit_postmortem_row(
        row=detected, actor=agent, at=T0, text="Spotted by the night shift"
    )
    time_machine.move_to(_minutes(60), tick=False)
    services.move_incident(incident=incident, actor=agent, to_status="investigating")
    services.move_incident(incident=incident, actor=agent, to_status="resolved")

    added = services.refresh_postmortem_timeline(postmortem=postmortem, actor=agent)

    assert [r.milestone for r in added] == ["verified"]
    detected.refresh_from_db()
    assert detected.text == "Spotted by the night shift"
    assert detected.is_edited


@pytest.mark.django_db
def test_rows_can_be_added_and_hidden(time_machine, agent):
    time_machine.move_to(T0, tick=False)
    postmortem = services.start_postmortem(
        incident=IncidentFactory(priority=Priority.P1), actor=agent
    )

    row = services.add_postmortem_row(
        postmortem=postmortem, actor=agent, at=T0, text="Bridge call opened"
    )
    services.hide_postmortem_row(row=row, actor=agent)

    row.refresh_from_db()
    assert row.is_hidden and row.milestone == ""


@pytest.mark.django_db
def test_a_row_in_the_future_is_refused(time_machine, agent):
    time_machine.move_to(T0, tick=False)
    postmortem = services.start_postmortem(
        incident=IncidentFactory(priority=Priority.P1), actor=agent
    )

    with pytest.raises(ValidationError) as exc_info:
        services.add_postmortem_row(
            postmortem=postmortem, actor=agent, at=_minutes(5), text="Later"
        )

    assert "future_row" in error_codes(exc_info.value)
    assert postmortem.timeline_rows.count() == 1


@pytest.mark.django_db
def test_a_second_postmortem_is_refused(agent):
    incident = IncidentFactory(priority=Priority.P1)
    services.start_postmortem(incident=incident, actor=agent)

    with pytest.raises(ValidationError) as exc_info:
        services.start_postmortem(incident=incident, actor=agent)

    assert exc_info.value.code == "already_started"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("priority", "systemic", "required"),
    [
        ("P1", False, True),
        ("P2", False, True),
        ("P3", True, True),
        ("P4", False, False),
    ],
)
def test_postmortem_is_required_for_p1_p2_and_systemic(priority, systemic, required):
    incident = Incident(priority=priority, is_systemic=systemic)

    assert services.postmortem_required(incident) is required


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("owner", "deadline", "code"),
    [
        (None, dt.date(2026, 12, 1), "owner_required"),
        ("someone", None, "deadline_required"),
        ("someone", dt.date(2026, 11, 17), "deadline_past"),
    ],
)
def test_an_action_without_owner_or_with_a_bad_deadline_is_refused(
    frozen_now, agent, owner, deadline, code
):
    postmortem = services.start_postmortem(
        incident=IncidentFactory(priority=Priority.P1), actor=agent
    )

    with pytest.raises(ValidationError) as exc_info:
        services.add_postmortem_action(
            postmortem=postmortem,
            actor=agent,
            what="Alert on renewal failures",
            kind="monitoring",
            owner=agent if owner else None,
            deadline_on=deadline,
        )

    assert code in error_codes(exc_info.value)
    assert not ActionItem.objects.filter(postmortem=postmortem).exists()


@pytest.mark.django_db
def test_an_action_due_today_is_accepted(frozen_now, agent):
    postmortem = services.start_postmortem(
        incident=IncidentFactory(priority=Priority.P1), actor=agent
    )

    item = services.add_postmortem_action(
        postmortem=postmortem,
        actor=agent,
        what="Add a runbook step",
        kind="process",
        owner=agent,
        deadline_on=frozen_now.date(),
    )

    assert item.kind == ActionItem.Kind.PROCESS
    assert item.owner == agent and item.who
    assert item.due_at > frozen_now


@pytest.mark.django_db
def test_publishing_an_empty_postmortem_is_refused(agent, manager):
    postmortem = services.start_postmortem(
        incident=IncidentFactory(priority=Priority.P1), actor=agent
    )

    with pytest.raises(ValidationError) as exc_info:
        services.submit_postmortem_for_review(postmortem=postmortem, actor=agent)

    assert exc_info.value.code == "postmortem_incomplete"
    assert "a summary" in exc_info.value.messages[0]
    postmortem.refresh_from_db()
    assert postmortem.status == PostMortem.Status.DRAFT


@pytest.mark.django_db
def test_publishing_a_draft_skips_no_review(agent, manager):
    postmortem = publishable_postmortem(agent)

    with pytest.raises(ValidationError) as exc_info:
        services.publish_postmortem(postmortem=postmortem, actor=manager)

    assert exc_info.value.code == "not_in_review"


@pytest.mark.django_db
def test_review_then_publish_locks_the_postmortem(agent, manager):
    postmortem = publishable_postmortem(agent)

    services.submit_postmortem_for_review(postmortem=postmortem, actor=agent)
    services.publish_postmortem(postmortem=postmortem, actor=manager)

    postmortem.refresh_from_db()
    assert postmortem.status == PostMortem.Status.PUBLISHED
    assert postmortem.published_by == manager
    statuses = [
        e.details["status"]
        for e in TimelineEvent.objects.filter(
            incident=postmortem.incident, kind=TimelineEvent.Kind.POSTMORTEM_CHANGED
        )
    ]
    assert statuses[-2:] == ["in_review", "published"]
    with pytest.raises(ValidationError) as exc_info:
        services.edit_postmortem(
            postmortem=postmortem,
            actor=agent,
            scheduled_on=None,
            attendees="",
            summary="Rewritten",
            went_well="",
            went_wrong="",
        )
    assert exc_info.value.code == "published"


@pytest.mark.django_db
def test_an_agent_cannot_publish(agent):
    postmortem = publishable_postmortem(agent)
    services.submit_postmortem_for_review(postmortem=postmortem, actor=agent)

    with pytest.raises(ValidationError) as exc_info:
        services.publish_postmortem(postmortem=postmortem, actor=agent)

    assert exc_info.value.code == "not_allowed"


@pytest.mark.django_db
def test_return_to_draft_needs_a_reason(agent, manager):
    postmortem = publishable_postmortem(agent)
    services.submit_postmortem_for_review(postmortem=postmortem, actor=agent)

    services.return_postmortem_to_draft(
        postmortem=postmortem, actor=manager, reason="Name the partner."
    )

    postmortem.refresh_from_db()
    assert postmortem.status == PostMortem.Status.DRAFT


# --- Pages ----------------------------------------------------------------


@pytest.mark.django_db
def test_postmortem_tab_offers_to_start_one(agent_client):
    incident = IncidentFactory(priority=Priority.P1)

    page = agent_client.get(reverse("incidents:postmortem", args=[incident.pk]))

    assert page.status_code == 200
    assert "needs a post-mortem" in page.content.decode()


@pytest.mark.django_db
def test_start_from_the_page_opens_the_editor(agent_client):
    incident = IncidentFactory(priority=Priority.P1)

    response = agent_client.post(
        reverse("incidents:postmortem_start", args=[incident.pk]),
        {"scheduled_on": "2026-12-03"},
    )

    assert response.url == reverse("incidents:postmortem_edit", args=[incident.pk])
    assert PostMortem.objects.get(incident=incident).scheduled_on == dt.date(
        2026, 12, 3
    )
    assert agent_client.get(response.url).status_code == 200


@pytest.mark.django_db
def test_action_without_owner_shows_the_message_on_the_page(agent_client, agent):
    incident = IncidentFactory(priority=Priority.P1)
    services.start_postmortem(incident=incident, actor=agent)

    response = agent_client.post(
        reverse("incidents:postmortem_action_add", args=[incident.pk]),
        {"what": "Add an alert", "kind": "monitoring", "deadline_on": "2099-01-01"},
    )

    assert response.status_code == 400
    assert "Every action needs an owner." in response.content.decode()


@pytest.mark.django_db
def test_print_view_has_no_navigation(agent_client, agent):
    postmortem = publishable_postmortem(agent)

    page = agent_client.get(
        reverse("incidents:postmortem_print", args=[postmortem.incident_id])
    ).content.decode()

    assert "navbar" not in page
    assert "postmortem-print.css" in page
    assert "What went wrong" in page


@pytest.mark.django_db
def test_agents_cannot_publish_from_the_page(agent_client, agent):
    postmortem = publishable_postmortem(agent)
    services.submit_postmortem_for_review(postmortem=postmortem, actor=agent)

    response = agent_client.post(
        reverse("incidents:postmortem_publish", args=[postmortem.incident_id])
    )

    assert response.status_code == 403


@pytest.mark.django_db
def test_list_searches_by_reference_and_words(agent_client, agent):
    found = publishable_postmortem(agent, summary="Renewal storm at the partner")
    publishable_postmortem(agent, summary="Payment gateway timeouts")

    by_words = agent_client.get(reverse("incidents:postmortem_list"), {"q": "renewal"})
    by_reference = agent_client.get(
        reverse("incidents:postmortem_list"), {"q": found.incident.reference}
    )

    assert [pm.pk for pm in by_words.context["page"].object_list] == [found.pk]
    assert [pm.pk for pm in by_reference.context["page"].object_list] == [found.pk]


@pytest.mark.django_db
@pytest.mark.parametrize("count", [2, 12])
def test_list_query_count_is_constant(
    agent_client, agent, count, django_assert_num_queries
):
    for _ in range(count):
        publishable_postmortem(agent)

    # session, user, page ids, page rows, count, nav permissions (2),
    # credits to decide (navigation)
    with django_assert_num_queries(7):
        response = agent_client.get(reverse("incidents:postmortem_list"))

    assert len(response.context["page"].object_list) == count


@pytest.mark.django_db
def test_overdue_actions_reach_their_owner_and_managers(
    client, agent, other_agent, manager, time_machine, frozen_now
):
    postmortem = publishable_postmortem(agent)
    theirs = services.add_postmortem_action(
        postmortem=postmortem,
        actor=agent,
        what="Rotate the partner API key",
        kind="preventive",
        owner=other_agent,
        deadline_on=frozen_now.date(),
    )
    time_machine.move_to(frozen_now + dt.timedelta(days=2), tick=False)

    def overdue_for(user):
        client.force_login(user)
        return client.get(reverse("home")).context["overdue_actions"]

    assert theirs in overdue_for(other_agent)
    assert theirs not in overdue_for(agent)
    assert theirs in overdue_for(manager)


@pytest.mark.django_db
def test_closed_action_leaves_the_overdue_list(agent, frozen_now, time_machine):
    from incidents import selectors

    postmortem = publishable_postmortem(agent)
    item = postmortem.action_items.get()
    time_machine.move_to(frozen_now + dt.timedelta(days=60), tick=False)
    assert selectors.overdue_action_items(now=frozen_now + dt.timedelta(days=60))

    services.complete_action_item(item=item, actor=agent)

    assert selectors.overdue_action_items(now=frozen_now + dt.timedelta(days=60)) == []
    item.refresh_from_db()
    assert item.done_at is not None


def test_timeline_row_model_orders_by_time():
    assert PostMortemTimelineRow._meta.ordering[0] == "at"


@pytest.mark.django_db
def test_non_staff_role_cannot_open_postmortems(client):
    client.force_login(UserFactory(username="no-role"))
    incident = IncidentFactory(priority=Priority.P1)

    response = client.get(reverse("incidents:postmortem", args=[incident.pk]))

    assert response.status_code == 403


@pytest.mark.django_db
def test_editing_a_post_mortem_in_review_sends_it_back_to_draft(agent, manager):
    postmortem = publishable_postmortem(agent)
    services.submit_postmortem_for_review(postmortem=postmortem, actor=agent)

    services.add_postmortem_row(
        postmortem=postmortem,
        actor=agent,
        at=postmortem.incident.created_at,
        text="A moment added after review started.",
    )
    with pytest.raises(ValidationError) as exc_info:
        services.publish_postmortem(postmortem=postmortem, actor=manager)

    postmortem.refresh_from_db()
    assert postmortem.status == PostMortem.Status.DRAFT
    assert exc_info.value.code == "not_in_review"


@pytest.mark.django_db
def test_nobody_publishes_their_own_post_mortem(manager):
    postmortem = publishable_postmortem(manager)
    services.submit_postmortem_for_review(postmortem=postmortem, actor=manager)

    with pytest.raises(ValidationError) as exc_info:
        services.publish_postmortem(postmortem=postmortem, actor=manager)

    assert exc_info.value.code == "own_postmortem"


@pytest.mark.django_db
def test_a_root_cause_written_in_the_resolve_form_is_stamped_when_recorded(
    agent, time_machine
):
    time_machine.move_to(T0, tick=False)
    incident = IncidentFactory(priority="P1")
    services.move_incident(incident=incident, actor=agent, to_status="investigating")
    time_machine.move_to(_minutes(150), tick=False)
    services.resolve_incident(
        incident=incident,
        actor=agent,
        root_cause="A certificate expired on the sync host.",
        fix_summary="We renewed it.",
        customer_summary="Trips were not syncing.",
        verification=["system_check"],
    )

    postmortem = services.start_postmortem(incident=incident, actor=agent)

    row = postmortem.timeline_rows.get(milestone="root_cause")
    assert row.at == _minutes(150)
