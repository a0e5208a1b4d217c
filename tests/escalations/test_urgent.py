import datetime as dt

import pytest

from comms.models import Message
from escalations.models import Tier
from escalations.paging import RecordingPager
from incidents.models import Priority, TimelineEvent
from tests.factories import IncidentFactory, escalation_note, request_test_escalation

pytestmark = pytest.mark.django_db

URGENT = {"why_urgent": "Outage for 40 customers", "immediate_risk": "Churn"}


@pytest.fixture
def pager(settings):
    settings.ESCALATION_PAGER_BACKEND = "escalations.paging.RecordingPager"
    RecordingPager.pages = []
    return RecordingPager


@pytest.fixture
def tier3_member(senior, fleet_policy):
    Tier.objects.get(policy=fleet_policy, key="tier3").members.add(senior)
    return senior


def escalate_urgently(incident, agent):
    return request_test_escalation(
        incident, agent, tier_key="tier3", path="urgent", path_details=URGENT
    )


def test_urgent_escalation_posts_the_alert_with_a_channel_mention(
    agent, tier3_member, fleet_customer, pager, frozen_now
):
    incident = IncidentFactory(customer=fleet_customer, priority=Priority.P2)

    escalate_urgently(incident, agent)

    alert = Message.objects.get(incident=incident, recipients=["#cs-urgent"])
    assert alert.body.startswith("@channel ")
    assert alert.template_version.template.key == "internal-urgent-escalation"
    assert incident.timeline_events.filter(
        kind=TimelineEvent.Kind.URGENT_ALERT_POSTED
    ).exists()


def test_the_urgent_alert_gives_the_customers_address_and_the_agents_reasons(
    agent, tier3_member, fleet_customer, pager, frozen_now
):
    # The carrier escalation guide's urgent post: who, how to reach them, why
    # it is urgent and what is at risk, in the agent's words.
    incident = IncidentFactory(
        customer=fleet_customer,
        priority=Priority.P2,
        what_happened="A long narrative nobody on the channel needs now.",
    )

    escalate_urgently(incident, agent)

    alert = Message.objects.get(incident=incident, recipients=["#cs-urgent"])
    assert f"{fleet_customer.name} <{fleet_customer.email}>" in alert.body
    assert "Why it is urgent: Outage for 40 customers" in alert.body
    assert "Immediate risk: Churn" in alert.body
    assert "long narrative" not in alert.body


def test_urgent_p1_out_of_hours_pages_on_call(
    agent,
    tier3_member,
    fleet_customer,
    pager,
    frozen_now,
    django_capture_on_commit_callbacks,
):
    # Wednesday 04:00 in Los Angeles: outside Tier 3's 09:00-17:00.
    incident = IncidentFactory(customer=fleet_customer, priority=Priority.P1)

    with django_capture_on_commit_callbacks(execute=True):
        escalate_urgently(incident, agent)

    assert [p["contact"] for p in pager.pages] == ["PagerDuty"]
    assert incident.timeline_events.filter(
        kind=TimelineEvent.Kind.ON_CALL_PAGED
    ).exists()


def test_urgent_p2_out_of_hours_does_not_page(
    agent,
    tier3_member,
    fleet_customer,
    pager,
    frozen_now,
    django_capture_on_commit_callbacks,
):
    incident = IncidentFactory(customer=fleet_customer, priority=Priority.P2)

    with django_capture_on_commit_callbacks(execute=True):
        escalate_urgently(incident, agent)

    assert pager.pages == []


def test_urgent_in_working_hours_pages_only_where_the_tier_pages_for_sev_1(
    agent,
    tier3_member,
    fleet_customer,
    pager,
    frozen_now,
    time_machine,
    django_capture_on_commit_callbacks,
):
    # Wednesday 10:00 in Los Angeles. The urgent path pages out of hours
    # only (carrier escalation guide); fleet Tier 3 pages for a Sev 1 at any
    # hour (fleet escalation playbook), and for nothing less.
    time_machine.move_to(frozen_now + dt.timedelta(hours=6), tick=False)
    p2 = IncidentFactory(customer=fleet_customer, priority=Priority.P2)
    tier = Tier.objects.get(key="tier3", policy=p2.policy)
    assert tier.pages_on_call_for_p1

    with django_capture_on_commit_callbacks(execute=True):
        escalate_urgently(p2, agent)
    assert pager.pages == []

    Tier.objects.filter(pk=tier.pk).update(pages_on_call_for_p1=False)
    p1 = IncidentFactory(customer=fleet_customer, priority=Priority.P1)
    with django_capture_on_commit_callbacks(execute=True):
        escalate_urgently(p1, agent)
    assert pager.pages == []


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("", True),
        ("Mon-Fri 06:00-20:00, Sat 08:00-17:00", True),
        ("Mon 00:00-24:00", True),
        ("Fri-Mon 06:00-20:00", False),
        ("Mon-Fri 20:00-06:00", False),
        ("weekdays", False),
    ],
)
def test_working_hours_are_parsed_or_refused(text, ok):
    from django.core.exceptions import ValidationError

    from escalations.models import parse_working_hours

    if ok:
        parse_working_hours(text)
    else:
        with pytest.raises(ValidationError):
            parse_working_hours(text)


def test_a_sev_1_reaching_tier_3_in_working_hours_pages_once_and_is_due_in_the_hour(
    agent,
    tier3_member,
    fleet_customer,
    pager,
    frozen_now,
    time_machine,
    django_capture_on_commit_callbacks,
):
    # Fleet escalation playbook: Tier 3 fixes critical bugs within the hour,
    # and "if Sev 1, page the on-call engineer", whatever the time.
    working = dt.datetime(2026, 11, 18, 18, 0, tzinfo=dt.UTC)  # 10:00 in LA
    time_machine.move_to(working, tick=False)
    incident = IncidentFactory(customer=fleet_customer, priority=Priority.P1)

    with django_capture_on_commit_callbacks(execute=True):
        (escalation,) = request_test_escalation(
            incident,
            agent,
            tier_key="tier3",
            path="tier2_to_tier3",
            path_details={
                "root_cause_hypothesis": "Sync queue stalled.",
                "requested_action": "Restart the sync workers.",
            },
            note={**escalation_note(), "urgency": "medium"},
        )

    assert escalation.ack_due_at == working + dt.timedelta(hours=1)
    assert [p["contact"] for p in pager.pages] == ["PagerDuty"]


def test_a_sev_1_urgent_escalation_out_of_hours_pages_only_once(
    agent,
    tier3_member,
    fleet_customer,
    pager,
    frozen_now,
    django_capture_on_commit_callbacks,
):
    incident = IncidentFactory(customer=fleet_customer, priority=Priority.P1)

    with django_capture_on_commit_callbacks(execute=True):
        escalate_urgently(incident, agent)

    assert len(pager.pages) == 1
    assert (
        incident.timeline_events.filter(kind=TimelineEvent.Kind.ON_CALL_PAGED).count()
        == 1
    )
