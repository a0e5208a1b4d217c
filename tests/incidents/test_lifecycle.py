import itertools

import pytest
from django.core.exceptions import ValidationError

from incidents import services
from incidents.lifecycle import ALLOWED_TRANSITIONS
from incidents.models import Incident, TimelineEvent
from tests.assertions import error_codes
from tests.factories import IncidentFactory, settle_checklists

S = Incident.Status
ALL_PAIRS = list(itertools.product(S.values, S.values))
ALLOWED = [(a, b) for a, b in ALL_PAIRS if b in ALLOWED_TRANSITIONS[a]]
REFUSED = [(a, b) for a, b in ALL_PAIRS if b not in ALLOWED_TRANSITIONS[a]]


def test_the_table_matches_the_playbook_lifecycle():
    assert ALLOWED_TRANSITIONS[S.NEW] == {S.INVESTIGATING}
    assert S.CLOSED in ALLOWED_TRANSITIONS[S.RESOLVED]
    assert S.CLOSED_PENDING in ALLOWED_TRANSITIONS[S.WAITING_CUSTOMER]
    assert not ALLOWED_TRANSITIONS[S.CLOSED]
    assert not ALLOWED_TRANSITIONS[S.CLOSED_PENDING]
    # Closing needs a resolution first.
    for status in S.values:
        if status != S.RESOLVED:
            assert S.CLOSED not in ALLOWED_TRANSITIONS[status]


@pytest.mark.django_db
@pytest.mark.parametrize(("from_status", "to_status"), ALLOWED)
def test_move_incident_allows(from_status, to_status, agent):
    incident = IncidentFactory(status=from_status)
    if to_status in (S.CLOSED, S.CLOSED_PENDING):
        settle_checklists(incident)  # the close guard has its own tests

    incident = services.move_incident(
        incident=incident, actor=agent, to_status=to_status, note="checked"
    )

    incident.refresh_from_db()
    assert incident.status == to_status
    assert (incident.resolved_at is not None) == (to_status in (S.RESOLVED, S.CLOSED))
    assert (incident.closed_at is not None) == (
        to_status in (S.CLOSED, S.CLOSED_PENDING)
    )
    # Resolving also attaches checklists, which write events of their own.
    event = incident.timeline_events.filter(
        kind=TimelineEvent.Kind.STATUS_CHANGED
    ).latest("id")
    assert event.actor == agent
    assert event.details["changes"]["status"] == [from_status, to_status]
    assert event.details["note"] == "checked"


@pytest.mark.django_db
@pytest.mark.parametrize(("from_status", "to_status"), REFUSED)
def test_move_incident_refuses(from_status, to_status, agent):
    incident = IncidentFactory(status=from_status)
    events_before = incident.timeline_events.count()

    with pytest.raises(ValidationError) as exc_info:
        services.move_incident(incident=incident, actor=agent, to_status=to_status)

    assert exc_info.value.code == "transition_refused"
    assert exc_info.value.messages[0]  # says why
    incident.refresh_from_db()
    assert incident.status == from_status
    assert incident.timeline_events.count() == events_before


@pytest.mark.django_db
@pytest.mark.parametrize("closed_status", [S.CLOSED, S.CLOSED_PENDING])
def test_reopen_incident_returns_to_investigation_and_keeps_history(
    closed_status, agent
):
    incident = IncidentFactory(status=closed_status)
    history = list(incident.timeline_events.values_list("id", flat=True))

    incident = services.reopen_incident(
        incident=incident, actor=agent, reason="Customer says it broke again."
    )

    incident.refresh_from_db()
    assert incident.status == S.INVESTIGATING
    assert incident.closed_at is None and incident.resolved_at is None
    assert (
        list(
            incident.timeline_events.filter(id__in=history).values_list("id", flat=True)
        )
        == history
    )
    event = incident.timeline_events.latest("id")
    assert event.kind == TimelineEvent.Kind.REOPENED
    assert event.details["reason"] == "Customer says it broke again."
    assert event.details["previous"]["closed_at"]


@pytest.mark.django_db
def test_reopen_incident_refuses_an_open_incident(agent):
    incident = IncidentFactory(status=S.INVESTIGATING)

    with pytest.raises(ValidationError) as exc_info:
        services.reopen_incident(incident=incident, actor=agent, reason="why not")

    assert exc_info.value.code == "not_closed"


@pytest.mark.django_db
def test_reopen_incident_needs_a_reason(agent):
    incident = IncidentFactory(status=S.CLOSED)

    with pytest.raises(ValidationError) as exc_info:
        services.reopen_incident(incident=incident, actor=agent, reason="  ")

    assert "reason_required" in error_codes(exc_info.value)


@pytest.mark.django_db
def test_a_refused_move_says_which_step_is_missing(agent):
    incident = IncidentFactory()

    with pytest.raises(ValidationError) as exc_info:
        services.move_incident(incident=incident, actor=agent, to_status=S.RESOLVED)

    assert "move it to investigating first" in exc_info.value.messages[0]


@pytest.mark.django_db
def test_the_timeline_reads_in_labels_and_display_values(agent, client):
    incident = IncidentFactory(priority="P3")
    services.edit_incident_details(
        incident=incident,
        actor=agent,
        expected_version=incident.version,
        changes={"priority": "P1", "service_status": "no_service"},
    )
    services.move_incident(incident=incident, actor=agent, to_status=S.INVESTIGATING)
    client.force_login(agent)

    page = client.get(incident.get_absolute_url()).content.decode()

    assert "Priority:</span> P3 · Medium → P1 · Critical" in page
    assert "Service status:</span> Active → No service" in page
    assert "Status:</span> New → Investigating" in page
    assert "Tags:</span> incident, " in page
    assert "service_status:" not in page
    assert "[&#x27;" not in page


@pytest.mark.django_db
def test_saving_the_form_unchanged_does_not_rewrite_the_detection_time(agent):
    import datetime as dt

    incident = IncidentFactory(
        detected_at=dt.datetime(2026, 12, 7, 3, 30, 27, 512000, tzinfo=dt.UTC)
    )
    shown = dt.datetime(2026, 12, 7, 3, 30, tzinfo=dt.UTC)  # what the form holds

    after = services.edit_incident_details(
        incident=incident,
        actor=agent,
        expected_version=incident.version,
        changes={"detected_at": shown},
    )

    assert after.version == incident.version
    assert not after.timeline_events.filter(kind="edited").exists()
