import datetime as dt
import importlib
from io import StringIO

import pytest
from django.apps import apps as django_apps
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_q.models import Schedule

from comms import services
from comms.models import FollowUpLoop, Message, SweepHeartbeat
from portal.tasks import run_due_work
from tests.factories import IncidentFactory

H = dt.timedelta(hours=1)


@pytest.mark.django_db
def test_run_due_work_sweeps_every_app_and_notes_the_sweep(frozen_now):
    IncidentFactory(priority="P3")

    done = run_due_work(frozen_now)

    assert set(done) == {
        "incidents",
        "comms",
        "escalations",
        "statuspage",
        "integrations",
    }
    assert done["comms"]["loops_opened"] == 2
    assert SweepHeartbeat.objects.get().last_sweep_at == frozen_now


@pytest.mark.django_db
def test_a_dry_run_reports_what_would_fire_and_writes_nothing(frozen_now, time_machine):
    incident = IncidentFactory(priority="P3")
    run_due_work(frozen_now)
    time_machine.move_to(frozen_now + 25 * H, tick=False)
    out = StringIO()

    call_command("run_due", "--dry-run", stdout=out)

    assert '"follow_ups_fired": 1' in out.getvalue()
    assert not Message.objects.filter(incident=incident, stage="follow_up").exists()
    assert SweepHeartbeat.objects.get().last_sweep_at == frozen_now


@pytest.mark.django_db
def test_run_due_takes_a_moment_to_sweep_at(frozen_now):
    IncidentFactory(priority="P3")
    run_due_work(frozen_now)
    out = StringIO()

    call_command(
        "run_due",
        "--dry-run",
        "--now",
        (frozen_now + 24 * H).strftime("%Y-%m-%dT%H:%M"),
        stdout=out,
    )

    assert '"follow_ups_fired": 1' in out.getvalue()


def test_run_due_refuses_a_moment_it_cannot_read():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("run_due", "--now", "tomorrow-ish")


@pytest.mark.django_db
def test_the_sweep_schedule_is_created_once_however_often_it_is_shipped():
    shipping = importlib.import_module("portal.migrations.0003_sweep_schedule")

    shipping.schedule(django_apps, None)
    shipping.schedule(django_apps, None)

    [schedule] = Schedule.objects.filter(func="portal.tasks.run_due_work")
    assert (schedule.schedule_type, schedule.minutes) == ("I", 1)


@pytest.mark.django_db
def test_the_operations_page_is_for_managers(client, agent):
    client.force_login(agent)

    assert client.get(reverse("comms:operations")).status_code == 403


@pytest.mark.django_db
def test_the_operations_page_warns_when_the_cluster_looks_dead(
    client, manager, frozen_now, time_machine
):
    run_due_work(frozen_now - H)
    client.force_login(manager)

    page = client.get(reverse("comms:operations")).text

    assert "looks dead" in page


@pytest.mark.django_db
def test_the_operations_page_lists_what_fires_and_what_is_overdue(
    client, manager, frozen_now, time_machine
):
    soon = IncidentFactory(priority="P1", title="Fires soon")
    late = IncidentFactory(priority="P3", title="Missed its slot")
    run_due_work(frozen_now)
    FollowUpLoop.objects.filter(incident=late).update(next_due_at=frozen_now - H)
    client.force_login(manager)

    page = client.get(reverse("comms:operations")).text

    assert "looks dead" not in page
    assert soon.reference in page
    assert late.reference in page
    assert "Overdue" in page


@pytest.mark.django_db
def test_the_operations_page_keeps_its_query_count(client, manager, frozen_now):
    for _ in range(2):
        IncidentFactory(priority="P1")
    run_due_work(frozen_now)
    client.force_login(manager)
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("comms:operations"))
    for _ in range(6):
        IncidentFactory(priority="P1")
    services.due_work(frozen_now)
    cache.clear()  # the navigation's counts, kept from the first request

    with CaptureQueriesContext(connection) as many:
        client.get(reverse("comms:operations"))

    assert len(many.captured_queries) == len(few.captured_queries)
