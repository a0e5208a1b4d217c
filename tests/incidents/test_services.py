import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from incidents import services
from incidents.models import (
    ActionItem,
    Category,
    Incident,
    JourneyMilestone,
    Priority,
    Signal,
    TimelineEvent,
)
from tests.assertions import error_codes
from tests.factories import CustomerFactory, IncidentFactory, UserFactory


@pytest.mark.django_db
def test_open_incident_records_everything_of_the_ticket(frozen_now, agent):
    customer = CustomerFactory()

    incident = services.open_incident(
        actor=agent,
        title="eSIM stuck",
        priority=Priority.P2,
        category=Category.objects.get(slug="esim"),
        signal=Signal.objects.get(code="SIG-002"),
        customer=customer,
        what_happened="Profile never provisioned.",
        impact_started_at=frozen_now - dt.timedelta(hours=3),
        is_partner_action_needed=True,
        partner_action_details="Re-push the profile.",
        owner=agent,
        extra_tags=["VIP watch"],
        immediate_actions=[{"who": "Alex", "what": "Call carrier", "due_at": None}],
        journey={"payment": {"state": "done", "happened_at": frozen_now}},
    )

    assert incident.reference == f"INC-{incident.pk:05d}"
    assert incident.status == Incident.Status.NEW
    assert incident.created_by == agent and incident.owner == agent
    assert incident.detected_at == frozen_now
    assert incident.tags == [
        "incident",
        "severity_high",
        "proactive_alert",
        "signal_sig-002",
        "esim",
        "in_progress",
        "vip watch",
    ]
    assert incident.action_items.get().what == "Call carrier"
    assert incident.journey_milestones.get().step == JourneyMilestone.Step.PAYMENT
    event = incident.timeline_events.get()
    assert event.kind == TimelineEvent.Kind.OPENED
    assert event.actor == agent
    assert event.created_at == frozen_now


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"customer": None}, "customer"),
        ({"impact_started_at": "future"}, "impact_started_at"),
        ({"detected_at": "future"}, "detected_at"),
        ({"is_vendor_action_needed": True}, "vendor_action_details"),
    ],
)
def test_open_incident_refuses_bad_input_and_writes_nothing(
    frozen_now, agent, overrides, field
):
    overrides = {
        k: frozen_now + dt.timedelta(hours=1) if v == "future" else v
        for k, v in overrides.items()
    }
    kwargs = {
        "actor": agent,
        "title": "t",
        "priority": Priority.P3,
        "category": Category.objects.get(slug="esim"),
        "customer": CustomerFactory(),
        "what_happened": "x",
        **overrides,
    }

    with pytest.raises(ValidationError) as exc_info:
        services.open_incident(**kwargs)

    assert field in exc_info.value.message_dict
    assert not Incident.objects.exists()
    assert not TimelineEvent.objects.exists()


@pytest.mark.django_db
def test_edit_incident_details_records_what_changed(agent):
    incident = IncidentFactory(sentiment=Incident.Sentiment.NEUTRAL)

    incident = services.edit_incident_details(
        incident=incident,
        actor=agent,
        expected_version=1,
        changes={"sentiment": Incident.Sentiment.ANGRY, "customer_contact_count": 3},
    )

    assert incident.version == 2
    event = incident.timeline_events.get(kind=TimelineEvent.Kind.EDITED)
    assert event.actor == agent
    assert event.details["changes"] == {
        "sentiment": ["neutral", "angry"],
        "customer_contact_count": [0, 3],
    }


@pytest.mark.django_db
def test_edit_incident_details_refuses_a_stale_edit_and_names_the_change(
    agent, other_agent
):
    incident = IncidentFactory(title="Original")
    services.edit_incident_details(
        incident=incident,
        actor=other_agent,
        expected_version=1,
        changes={"title": "Changed by B"},
    )

    with pytest.raises(ValidationError) as exc_info:
        services.edit_incident_details(
            incident=incident,
            actor=agent,
            expected_version=1,
            changes={"title": "Changed by A"},
        )

    assert exc_info.value.code == "stale"
    assert f"{other_agent.get_full_name()} changed Title" in exc_info.value.messages[0]
    incident.refresh_from_db()
    assert incident.title == "Changed by B"
    assert incident.version == 2


@pytest.mark.django_db
def test_move_incident_refuses_a_stale_page(agent, other_agent):
    incident = IncidentFactory()
    services.assign_incident(
        incident=incident, actor=other_agent, owner=other_agent, expected_version=1
    )

    with pytest.raises(ValidationError) as exc_info:
        services.move_incident(
            incident=incident,
            actor=agent,
            to_status=Incident.Status.INVESTIGATING,
            expected_version=1,
        )

    assert exc_info.value.code == "stale"
    assert f"{other_agent.get_full_name()} changed Owner" in exc_info.value.messages[0]


@pytest.mark.django_db
def test_edit_with_no_change_writes_no_event(agent):
    incident = IncidentFactory(title="Same")

    services.edit_incident_details(
        incident=incident, actor=agent, expected_version=1, changes={"title": "Same"}
    )

    assert incident.timeline_events.count() == 1


@pytest.mark.django_db
def test_assign_incident_records_old_and_new_owner(agent, other_agent):
    incident = IncidentFactory(owner=agent)

    incident = services.assign_incident(
        incident=incident, actor=agent, owner=other_agent
    )

    event = incident.timeline_events.get(kind=TimelineEvent.Kind.OWNER_CHANGED)
    assert event.details["changes"]["owner"] == [
        agent.get_full_name(),
        other_agent.get_full_name(),
    ]


@pytest.mark.django_db
def test_assign_incident_refuses_inactive_people(agent):
    incident = IncidentFactory()
    gone = UserFactory(is_active=False)

    with pytest.raises(ValidationError) as exc_info:
        services.assign_incident(incident=incident, actor=agent, owner=gone)

    assert "inactive_owner" in error_codes(exc_info.value)


@pytest.mark.django_db
@pytest.mark.parametrize(("minutes_after", "result"), [(60, "met"), (600, "breached")])
def test_record_first_response_stamps_the_sla_result(
    frozen_now, time_machine, agent, minutes_after, result
):
    incident = IncidentFactory(priority=Priority.P2)  # 2 h first response
    time_machine.move_to(frozen_now + dt.timedelta(minutes=minutes_after), tick=False)

    incident = services.record_first_response(incident=incident, actor=agent)

    assert incident.first_response_at == frozen_now + dt.timedelta(
        minutes=minutes_after
    )
    event = incident.timeline_events.get(kind=TimelineEvent.Kind.FIRST_RESPONSE)
    assert event.details["sla"] == result


@pytest.mark.django_db
def test_record_first_response_only_once(agent):
    incident = IncidentFactory()
    services.record_first_response(incident=incident, actor=agent)

    with pytest.raises(ValidationError) as exc_info:
        services.record_first_response(incident=incident, actor=agent)

    assert exc_info.value.code == "already_responded"


@pytest.mark.django_db
def test_add_affected_customer_only_on_systemic_incidents(agent):
    single = IncidentFactory()
    systemic = IncidentFactory(customer=None, is_systemic=True)
    customer = CustomerFactory()

    with pytest.raises(ValidationError) as exc_info:
        services.add_affected_customer(incident=single, actor=agent, customer=customer)
    services.add_affected_customer(
        incident=systemic, actor=agent, customer=customer, status_before="No service"
    )

    assert exc_info.value.code == "not_systemic"
    assert systemic.affected_customers.get().status_before == "No service"


@pytest.mark.django_db
def test_complete_action_item_is_recorded(agent):
    incident = IncidentFactory(
        immediate_actions=[{"who": "Sam", "what": "Check logs", "due_at": None}]
    )
    item = incident.action_items.get()

    services.complete_action_item(item=item, actor=agent)

    item.refresh_from_db()
    assert item.status == ActionItem.Status.DONE
    assert incident.timeline_events.filter(
        kind=TimelineEvent.Kind.ACTION_ITEM_DONE
    ).exists()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_timeline_events_cannot_be_edited_in_the_database():
    incident = IncidentFactory()
    event = incident.timeline_events.get()

    with pytest.raises(IntegrityError), transaction.atomic():
        TimelineEvent.objects.filter(pk=event.pk).update(details={"forged": True})

    event.refresh_from_db()
    assert "forged" not in event.details


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite keeps DELETE for the test runner's flush; PostgreSQL refuses it",
)
def test_timeline_events_cannot_be_deleted_on_postgresql():
    incident = IncidentFactory()

    with pytest.raises(IntegrityError), transaction.atomic():
        TimelineEvent.objects.filter(incident=incident).delete()

    assert incident.timeline_events.count() == 1


@pytest.mark.django_db
def test_choose_time_zone_refuses_unknown_zones(agent):
    with pytest.raises(ValidationError) as exc_info:
        services.choose_time_zone(user=agent, time_zone="Mars/Olympus")

    assert "unknown_zone" in error_codes(exc_info.value)


@pytest.mark.django_db
def test_timeline_entries_held_together_land_at_the_end_in_order_or_not_at_all():
    incident = IncidentFactory()
    before = incident.timeline_events.count()

    with services.timeline_written_together():
        for n in range(3):
            services.record_timeline_event(
                incident=incident,
                kind=TimelineEvent.Kind.EDITED,
                actor=None,
                details={"n": n},
            )
        assert incident.timeline_events.count() == before
    written = incident.timeline_events.order_by("pk")[before:]
    assert [event.details["n"] for event in written] == [0, 1, 2]

    with pytest.raises(RuntimeError), services.timeline_written_together():
        services.record_timeline_event(
            incident=incident, kind=TimelineEvent.Kind.EDITED, actor=None
        )
        raise RuntimeError("the sweep's chunk failed")
    assert incident.timeline_events.count() == before + 3
