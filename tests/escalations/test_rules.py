"""Every shipped rule and trigger, just before and just after its boundary."""

import datetime as dt
from decimal import Decimal

import pytest

from escalations import selectors, services
from escalations.models import Escalation, EscalationFiring
from incidents.models import AffectedCustomer, Category, Priority, Segment
from incidents.services import add_affected_customer
from tests.factories import CustomerFactory, IncidentFactory, request_test_escalation

pytestmark = pytest.mark.django_db


def rule_keys(incident, **facts):
    return {m.rule.key for m in selectors.matching_rules(incident=incident, **facts)}


@pytest.mark.parametrize(
    ("flag", "rule_key"),
    [
        ("troubleshooting_exhausted", "troubleshooting-exhausted"),
        ("bug_identified", "bug-identified"),
        ("suspension_appeal", "suspension-appeal"),
        ("fraud_suspected", "fraud-suspected"),
        ("legal_request", "legal-request"),
        ("legal_threat", "legal-threat"),
        ("security_suspected", "security-incident"),
    ],
)
def test_carrier_flag_rules_hold_only_when_ticked(flag, rule_key):
    incident = IncidentFactory()

    assert rule_key not in rule_keys(incident)
    assert rule_key in rule_keys(incident, flags=[flag])


def test_carrier_stuck_rule_boundary(time_machine, frozen_now):
    incident = IncidentFactory()

    time_machine.move_to(frozen_now + dt.timedelta(hours=72), tick=False)
    assert "stuck-72h" not in rule_keys(incident)
    time_machine.move_to(frozen_now + dt.timedelta(hours=72, seconds=1), tick=False)
    assert "stuck-72h" in rule_keys(incident)


def test_carrier_refund_rule_boundary():
    incident = IncidentFactory()

    assert "refund-over-100" not in rule_keys(incident, refund_amount=Decimal("100"))
    assert "refund-over-100" in rule_keys(incident, refund_amount=Decimal("100.01"))


def test_carrier_network_outage_rule_boundary(agent):
    network = Category.objects.get(slug="network")
    incident = IncidentFactory(category=network, customer=None, is_systemic=True)
    add_affected_customer(incident=incident, customer=CustomerFactory(), actor=agent)

    assert "network-outage" not in rule_keys(incident)
    add_affected_customer(incident=incident, customer=CustomerFactory(), actor=agent)
    match = next(
        m
        for m in selectors.matching_rules(incident=incident)
        if m.rule.key == "network-outage"
    )
    assert {t.key for t in match.tiers} == {"engineering", "carrier"}


def test_carrier_port_in_rule_boundary():
    incident = IncidentFactory()
    flags = ["port_in_rejected"]

    assert "port-in-rejected-3" not in rule_keys(
        incident, flags=flags, port_in_rejections=2
    )
    assert "port-in-rejected-3" in rule_keys(
        incident, flags=flags, port_in_rejections=3
    )


def test_carrier_vip_rule():
    assert "vip" not in rule_keys(IncidentFactory())
    assert "vip" in rule_keys(IncidentFactory(customer=CustomerFactory(is_vip=True)))


def test_fleet_security_and_customer_asked_rules(fleet_customer):
    incident = IncidentFactory(customer=fleet_customer)

    assert rule_keys(incident) & {"security-suspected", "customer-asked"} == set()
    matches = {
        m.rule.key: m
        for m in selectors.matching_rules(
            incident=incident, flags=["security_suspected", "customer_asked"]
        )
    }
    assert {t.key for t in matches["security-suspected"].tiers} == {
        "security",
        "tier3",
    }
    # At Tier 1, "next tier" is Tier 2; the manager joins.
    assert [t.key for t in matches["customer-asked"].tiers] == ["tier2", "management"]


def sweep(now):
    return services.due_work(now)


def fired(incident, rule_key):
    return EscalationFiring.objects.filter(
        incident=incident, rule__key=rule_key
    ).exists()


def test_fleet_tier1_over_4h_fires_once_after_the_boundary(
    time_machine, frozen_now, fleet_customer
):
    incident = IncidentFactory(customer=fleet_customer, priority=Priority.P4)

    sweep(frozen_now + dt.timedelta(hours=4))
    assert not fired(incident, "tier1-over-4h")
    sweep(frozen_now + dt.timedelta(hours=4, minutes=1))
    sweep(frozen_now + dt.timedelta(hours=4, minutes=2))

    escalation = Escalation.objects.get(incident=incident, rule__key="tier1-over-4h")
    assert escalation.to_tier.key == "tier2"
    assert escalation.reached_tier_at is not None
    assert "escalated_l2" in type(incident).objects.get(pk=incident.pk).tags


def test_fleet_tier2_over_8h_counts_from_reaching_tier2(
    agent, senior, time_machine, frozen_now, fleet_customer
):
    incident = IncidentFactory(customer=fleet_customer, priority=Priority.P4)
    time_machine.move_to(frozen_now + dt.timedelta(hours=1), tick=False)
    request_test_escalation(
        incident,
        agent,
        tier_key="tier2",
        path="tier1_to_tier2",
        path_details={"customer_impact": "Cannot log trips", "frequency": "Recurring"},
    )
    reached = frozen_now + dt.timedelta(hours=1)

    sweep(reached + dt.timedelta(hours=8))
    assert not fired(incident, "tier2-over-8h")
    sweep(reached + dt.timedelta(hours=8, minutes=1))
    assert Escalation.objects.get(rule__key="tier2-over-8h").to_tier.key == "tier3"


def test_fleet_sev1_goes_to_tier2_tier3_and_management(frozen_now, fleet_customer):
    p2 = IncidentFactory(customer=fleet_customer, priority=Priority.P2)
    p1 = IncidentFactory(customer=fleet_customer, priority=Priority.P1)

    sweep(frozen_now)

    assert not fired(p2, "sev1")
    tiers = set(
        Escalation.objects.filter(incident=p1, rule__key="sev1").values_list(
            "to_tier__key", flat=True
        )
    )
    assert tiers == {"tier2", "tier3", "management"}


def test_a_rule_escalation_tells_the_customer_once_and_sev1_sounds_the_alarm(
    frozen_now, fleet_customer
):
    from comms.models import Message
    from incidents.models import TimelineEvent

    p1 = IncidentFactory(customer=fleet_customer, priority=Priority.P1)

    sweep(frozen_now)
    sweep(frozen_now + dt.timedelta(minutes=1))

    told = Message.objects.filter(incident=p1, audience="customer", stage="escalation")
    assert told.count() == 1
    alerts = p1.timeline_events.filter(kind=TimelineEvent.Kind.URGENT_ALERT_POSTED)
    assert alerts.count() == 1
    urgent_chat = Message.objects.filter(
        incident=p1, audience="internal", situation="urgent"
    )
    assert urgent_chat.count() == 1
    assert urgent_chat.get().body.startswith("@channel ")


def test_two_rules_for_one_incident_hand_each_tier_one_escalation(
    frozen_now, fleet_policy
):
    """An enterprise customer's Sev 1 meets two of the fleet escalation
    playbook's triggers (3 and 6): Tier 2 gets it once, and the customer
    hears of it once."""
    from comms.models import Message

    customer = CustomerFactory(policy=fleet_policy, segment=Segment.ENTERPRISE)
    p1 = IncidentFactory(customer=customer, priority=Priority.P1)

    sweep(frozen_now)

    assert fired(p1, "sev1") and fired(p1, "vip-enterprise")
    tiers = list(
        Escalation.objects.filter(incident=p1).values_list("to_tier__key", flat=True)
    )
    assert sorted(tiers) == ["customer_success", "management", "tier2", "tier3"]
    assert (
        Message.objects.filter(
            incident=p1, audience="customer", stage="escalation"
        ).count()
        == 1
    )


def test_fleet_multiple_customers_boundary(agent, frozen_now, fleet_policy):
    incident = IncidentFactory(
        customer=CustomerFactory(policy=fleet_policy),
        is_systemic=True,
        priority=Priority.P4,
    )

    sweep(frozen_now)
    assert not fired(incident, "multiple-customers")
    add_affected_customer(incident=incident, customer=CustomerFactory(), actor=agent)
    sweep(frozen_now)
    assert fired(incident, "multiple-customers")


@pytest.mark.parametrize(
    ("customer_kwargs", "fires"),
    [
        ({}, False),
        ({"is_vip": True}, True),
        ({"segment": Segment.ENTERPRISE}, True),
    ],
)
def test_fleet_vip_or_enterprise(frozen_now, fleet_policy, customer_kwargs, fires):
    customer = CustomerFactory(policy=fleet_policy, **customer_kwargs)
    incident = IncidentFactory(customer=customer, priority=Priority.P4)

    sweep(frozen_now)

    assert fired(incident, "vip-enterprise") is fires


def test_fleet_sla_breach_imminent_boundary(time_machine, frozen_now, fleet_customer):
    incident = IncidentFactory(customer=fleet_customer, priority=Priority.P2)
    due = incident.resolution_due_at

    sweep(due - dt.timedelta(hours=2, seconds=1))
    assert not fired(incident, "sla-breach-imminent")
    sweep(due - dt.timedelta(hours=2))
    assert fired(incident, "sla-breach-imminent")
    tiers = set(
        Escalation.objects.filter(rule__key="sla-breach-imminent").values_list(
            "to_tier__key", flat=True
        )
    )
    # Six hours in, the 4-hour trigger already moved it to Tier 2 in the
    # same sweep, so "next tier" is Tier 3.
    assert tiers == {"tier3", "management"}


def test_automatic_rules_leave_other_policies_alone(frozen_now):
    incident = IncidentFactory(priority=Priority.P1)  # carrier policy

    sweep(frozen_now + dt.timedelta(days=4))

    assert not Escalation.objects.filter(incident=incident, rule__isnull=False).exists()
    assert AffectedCustomer.objects.count() == 0


def test_each_tiers_chat_post_and_timeline_entry_say_whose_it_is_and_how_urgent(
    frozen_now, fleet_customer
):
    from comms.models import Message
    from incidents.models import TimelineEvent

    p1 = IncidentFactory(customer=fleet_customer, priority=Priority.P1)

    sweep(frozen_now)

    posts = Message.objects.filter(
        incident=p1, audience="internal", channel="chat", situation=""
    )
    assert sorted(post.body.split(":", 1)[0] for post in posts) == sorted(
        f"For {e.to_tier.name}" for e in Escalation.objects.filter(incident=p1)
    )
    triggered = p1.timeline_events.filter(kind=TimelineEvent.Kind.ESCALATION_TRIGGERED)
    assert {event.details["urgency"] for event in triggered} == {"critical"}
