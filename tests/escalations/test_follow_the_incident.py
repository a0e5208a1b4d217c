"""Escalations live and die with their incident."""

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

from comms.models import Message
from escalations import services
from escalations.models import Escalation
from incidents import services as incident_services
from incidents.models import Priority, TimelineEvent
from tests.escalations.conftest import tier
from tests.factories import IncidentFactory, request_test_escalation, settle_checklists

pytestmark = pytest.mark.django_db
H = dt.timedelta(hours=1)


def resolve(incident):
    incident = (
        incident_services.move_incident(
            incident=incident, actor=None, to_status="investigating"
        )
        if incident.status == "new"
        else incident
    )
    return incident_services.move_incident(
        incident=incident, actor=None, to_status="resolved"
    )


def close(incident):
    settle_checklists(incident)
    return incident_services.move_incident(
        incident=incident, actor=None, to_status="closed"
    )


def test_resolving_stops_reminders_and_the_customer_check_in(agent, senior, frozen_now):
    incident = IncidentFactory(priority=Priority.P3)
    (escalation,) = request_test_escalation(incident, agent)
    resolve(incident)
    customer_before = Message.objects.filter(
        incident=incident, audience="customer"
    ).count()

    # Short of the resolved incident's own check-in (48 h of silence).
    for hours in (24, 25, 47):
        services.due_work(frozen_now + hours * H)

    escalation.refresh_from_db()
    assert escalation.status == Escalation.Status.REQUESTED
    assert not TimelineEvent.objects.filter(
        kind=TimelineEvent.Kind.ESCALATION_REMINDED
    ).exists()
    assert (
        Message.objects.filter(incident=incident, audience="customer").count()
        == customer_before
    )


def test_closing_ends_open_escalations_and_says_so(agent, senior, frozen_now):
    incident = IncidentFactory(priority=Priority.P3)
    (escalation,) = request_test_escalation(incident, agent)
    close(resolve(incident))

    done = services.due_work(frozen_now + dt.timedelta(minutes=1))

    escalation.refresh_from_db()
    assert done["escalations_ended"] == 1
    assert escalation.status == Escalation.Status.ENDED
    assert escalation.ended_from == "requested"
    assert "closed" in escalation.outcome
    assert TimelineEvent.objects.filter(
        incident=incident, kind=TimelineEvent.Kind.ESCALATION_ENDED
    ).exists()
    # Nothing more is sent for it, however long the sweep runs.
    sent_before = Message.objects.filter(incident=incident).count()
    for hours in (24, 25, 48, 96):
        services.due_work(frozen_now + hours * H)
    assert Message.objects.filter(incident=incident).count() == sent_before


def test_reopening_puts_ended_escalations_back_in_their_queue(
    agent, senior, frozen_now
):
    incident = IncidentFactory(priority=Priority.P3)
    (escalation,) = request_test_escalation(incident, agent)
    incident = close(resolve(incident))
    services.due_work(frozen_now + dt.timedelta(minutes=1))

    incident_services.reopen_incident(
        incident=incident, actor=agent, reason="It is back."
    )
    done = services.due_work(frozen_now + dt.timedelta(minutes=2))

    escalation.refresh_from_db()
    assert done["escalations_restored"] == 1
    assert escalation.status == Escalation.Status.REQUESTED
    assert escalation.reached_tier_at == frozen_now + dt.timedelta(minutes=2)
    assert TimelineEvent.objects.filter(
        incident=incident, kind=TimelineEvent.Kind.ESCALATION_RESTORED
    ).exists()


def test_tier_queue_shows_no_countdown_once_resolved_and_nothing_once_closed(
    agent, senior, client, frozen_now
):
    client.force_login(senior)
    l2 = tier("Carrier playbook", "l2")
    resolved = IncidentFactory(priority=Priority.P3, title="Resolved one")
    closed = IncidentFactory(priority=Priority.P3, title="Closed one")
    for incident in (resolved, closed):
        request_test_escalation(incident, agent)
    resolve(resolved)
    close(resolve(closed))

    page = client.get(reverse("escalations:tier_queue", args=[l2.pk]))

    html = page.content.decode()
    assert resolved.reference in html
    assert "incident resolved" in html
    assert closed.reference not in html


def test_a_high_urgency_escalation_is_due_within_the_four_hours_it_promises(
    agent, senior, frozen_now
):
    incident = IncidentFactory(priority=Priority.P3)
    (escalation,) = request_test_escalation(incident, agent)
    assert escalation.urgency == "high"

    assert escalation.ack_due_at == frozen_now + 4 * H


def test_resolving_an_escalation_asks_what_the_tier_did(agent, senior, frozen_now):
    from django.core.exceptions import ValidationError

    from tests.assertions import error_codes

    (escalation,) = request_test_escalation(IncidentFactory(), agent)
    services.acknowledge_escalation(escalation=escalation, actor=senior)

    with pytest.raises(ValidationError) as exc_info:
        services.resolve_escalation(escalation=escalation, actor=senior, outcome=" ")

    assert error_codes(exc_info.value) == {"outcome_required"}


def test_a_rules_escalation_carries_the_incidents_reading_of_the_customer(
    fleet_customer, frozen_now
):
    from tests.factories import CustomerFactory

    customer = CustomerFactory(policy=fleet_customer.policy, segment="enterprise")
    incident = IncidentFactory(customer=customer, sentiment="frustrated")

    services.due_work(frozen_now + dt.timedelta(minutes=1))

    escalation = Escalation.objects.filter(incident=incident).first()
    assert escalation is not None and escalation.rule is not None
    assert escalation.sentiment == "frustrated"


def test_flagging_a_fleet_incident_as_security_fires_the_security_rule(
    fleet_customer, agent, frozen_now
):
    from incidents import services as incident_services

    incident = IncidentFactory(customer=fleet_customer, status="investigating")
    incident_services.flag_security_incident(
        incident=incident, actor=agent, incident_type="data_breach"
    )

    services.due_work(frozen_now + dt.timedelta(minutes=1))

    tiers = set(
        Escalation.objects.filter(incident=incident).values_list(
            "to_tier__key", flat=True
        )
    )
    assert {"security", "tier3"} <= tiers


def test_checking_the_rules_before_a_path_counts_the_numbers_typed(agent_client, agent):
    from django.urls import reverse

    incident = IncidentFactory()
    page = agent_client.post(
        reverse("escalations:escalate", args=[incident.pk]),
        {"action": "check_rules", "refund_amount": "150.00"},
    )

    assert "Refund above $100" in page.content.decode()


def test_one_tier_up_climbs_the_policys_ladder_not_the_list(agent, senior, frozen_now):
    from escalations import selectors

    l2 = tier("Carrier playbook", "l2")
    tiers = selectors.policy_tiers(l2.policy_id)

    assert selectors.next_tier(l2, tiers).key == "management"
    assert selectors.next_tier(tier("Carrier playbook", "engineering"), tiers).key == (
        "management"
    )
    fleet = selectors.policy_tiers(tier("Fleet SaaS", "tier1").policy_id)
    assert selectors.next_tier(tier("Fleet SaaS", "tier2"), fleet).key == "tier3"


def test_a_fleet_tiers_alert_goes_to_its_own_room_and_names_the_rule(
    fleet_customer, agent, frozen_now, settings
):
    from comms.models import Message
    from incidents import services as incident_services

    settings.SUPPORT_TEAM_NAME = "The Customer Support team"
    incident = IncidentFactory(
        customer=fleet_customer, status="investigating", category__slug="network"
    )
    incident_services.flag_security_incident(
        incident=incident, actor=agent, incident_type="data_breach"
    )

    services.due_work(frozen_now + dt.timedelta(minutes=1))

    escalation = Escalation.objects.get(incident=incident, to_tier__key="security")
    (alert,) = [
        message
        for message in Message.objects.filter(
            incident=incident, audience="internal", channel="chat"
        )
        if message.body.startswith(f"For {escalation.to_tier.name}:")
    ]
    assert alert.recipients == ["#fleet-security"]
    first_line = alert.body.split("\n")[0]
    assert f"raised by the rule “{escalation.rule.name}”" in first_line
    assert "from The Customer Support team" not in alert.body


def test_a_fleet_legal_threat_goes_to_legal_and_stops_customer_messages(
    fleet_customer, agent, manager
):
    from django.core.exceptions import ValidationError

    from tests.factories import send_test_message

    incident = IncidentFactory(customer=fleet_customer, status="investigating")
    (escalation,) = request_test_escalation(
        incident,
        agent,
        tier_key="legal",
        path="management",
        flags=["legal_threat"],
        path_details={
            "situation": "The customer says their lawyer will write to us.",
            "customer_requests": "A refund of the whole contract.",
            "risk": "A claim, and churn.",
            "recommended_action": "Legal answers; we stop writing.",
        },
    )

    assert escalation.to_tier.name == "Legal team"
    assert escalation.stops_customer_contact
    # Every tab says so, as a stop for contact, not as a security incident.
    agent_client = Client()
    agent_client.force_login(agent)
    page = agent_client.get(reverse("incidents:detail", args=[incident.pk]))
    banner = page.content.decode()
    assert "Customer contact stopped." in banner
    assert "is escalated to Legal team under a rule" in banner
    assert "Security incident." not in banner
    with pytest.raises(ValidationError) as refused:
        send_test_message(incident, agent)
    assert refused.value.code == "legal_approval_required"
    assert "under a rule that stops customer contact" in refused.value.messages[0]
    # The team still talks; a manager may still write, giving the reason.
    send_test_message(
        incident,
        agent,
        audience="internal",
        channel="chat",
        recipients=["#fleet-legal"],
    )
    overridden = send_test_message(
        incident, manager, override_reason="Legal asked us to confirm receipt."
    )
    assert overridden.override_reason == "Legal asked us to confirm receipt."

    services.acknowledge_escalation(escalation=escalation, actor=manager)
    services.resolve_escalation(
        escalation=escalation, actor=manager, outcome="Legal answered the customer."
    )

    assert send_test_message(incident, agent).audience == "customer"


def test_a_fleet_churn_threat_suggests_customer_success_and_the_manager(
    fleet_customer, agent, agent_client
):
    incident = IncidentFactory(customer=fleet_customer, status="investigating")

    page = agent_client.post(
        reverse("escalations:escalate", args=[incident.pk]),
        {"action": "check_rules", "flags": ["churn_threat"]},
    ).content.decode()

    assert "Customer threatens to cancel" in page
    rule = incident.policy.escalation_rules.get(key="churn-threat")
    assert sorted(rule.target_tiers.values_list("key", flat=True)) == [
        "customer_success",
        "management",
    ]
    assert rule.respond_within_minutes == 30


def test_a_fleet_press_inquiry_goes_to_pr_and_nobody_answers_it_directly(
    fleet_customer, agent, agent_client, manager
):
    """004 management escalation 4: PR team + VP Marketing; do not respond."""
    from django.core.exceptions import ValidationError

    from tests.factories import send_test_message

    incident = IncidentFactory(customer=fleet_customer, status="investigating")
    page = agent_client.post(
        reverse("escalations:escalate", args=[incident.pk]),
        {"action": "check_rules", "flags": ["media_inquiry"]},
    ).content.decode()
    assert "Media or press inquiry" in page
    assert "PR team and VP Marketing" in page

    # Until an admin adds the PR team, the managers hold the tier.
    (escalation,) = request_test_escalation(
        incident,
        agent,
        tier_key="pr",
        path="management",
        flags=["media_inquiry"],
        path_details={
            "situation": "A trade journalist asks about yesterday's outage.",
            "customer_requests": "A statement by tonight.",
            "risk": "A story without our side.",
            "recommended_action": "PR answers.",
        },
    )

    assert escalation.stops_customer_contact
    with pytest.raises(ValidationError) as refused:
        send_test_message(incident, agent)
    assert "escalated to PR team and VP Marketing" in refused.value.messages[0]
