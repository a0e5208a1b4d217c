"""Bulk rows: what the demo loader and the sweep write many of at once."""

import pytest
from django.db import IntegrityError, transaction

from incidents.models import Customer, TimelineEvent
from portal.bulk import insert_rows
from tests.factories import IncidentFactory


@pytest.mark.django_db
def test_bulk_rows_get_their_keys_and_keep_json_and_stamps():
    incident = IncidentFactory()
    events = [
        TimelineEvent(
            incident=incident,
            kind=TimelineEvent.Kind.EDITED,
            created_at=incident.created_at,
            details={"changes": {"title": ["Old", "New"]}, "n": n},
        )
        for n in range(3)
    ]

    insert_rows(TimelineEvent, events)

    assert all(event.pk for event in events)
    stored = TimelineEvent.objects.get(pk=events[2].pk)
    assert stored.details == {"changes": {"title": ["Old", "New"]}, "n": 2}
    assert stored.incident_id == incident.pk


@pytest.mark.django_db
def test_a_broken_constraint_is_djangos_integrity_error_and_writes_nothing():
    rows = [
        Customer(name="A", email="a@example.com", account_id="DUP-1"),
        Customer(name="B", email="b@example.com", account_id="DUP-1"),
    ]

    with pytest.raises(IntegrityError), transaction.atomic():
        insert_rows(Customer, rows)

    assert not Customer.objects.filter(account_id="DUP-1").exists()
