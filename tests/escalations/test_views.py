from decimal import Decimal

import pytest
from django.urls import reverse

from escalations.models import Escalation, Tier
from incidents.models import Priority
from tests.factories import (
    IncidentFactory,
    UserFactory,
    confirmed_checks,
    escalation_note,
    request_test_escalation,
)

pytestmark = pytest.mark.django_db

ROLES = ["Agent", "Senior agent", "Manager", "VP", "Admin", None]


def user_with(role):
    return UserFactory(username=f"u-{role or 'none'}".replace(" ", "-"), role=role)


def escalate_post(incident, **overrides):
    data = {
        "path": "l2",
        "tiers": [Tier.objects.get(policy=incident.policy, key="l2").pk],
        **{k: v for k, v in escalation_note().items()},
    }
    for pk in confirmed_checks(incident.policy):
        data[f"check_{pk}"] = "on"
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    ("role", "can_escalate"),
    [
        ("Agent", True),
        ("Senior agent", True),
        ("Manager", True),
        ("VP", True),
        ("Admin", True),
        (None, False),
    ],
)
def test_escalate_page_permission(client, senior, role, can_escalate):
    incident = IncidentFactory()
    client.force_login(user_with(role))

    page = client.get(reverse("escalations:escalate", args=[incident.pk]))
    post = client.post(
        reverse("escalations:escalate", args=[incident.pk]), escalate_post(incident)
    )

    assert page.status_code == (200 if can_escalate else 403)
    assert post.status_code == (302 if can_escalate else 403)
    assert Escalation.objects.exists() is can_escalate


@pytest.mark.parametrize(
    ("role", "approves"),
    [
        ("Agent", False),
        ("Senior agent", False),
        ("Manager", True),
        ("VP", True),
        ("Admin", True),
        (None, False),
    ],
)
def test_approve_permission(client, agent, senior, role, approves):
    (escalation,) = request_test_escalation(
        IncidentFactory(), agent, refund_amount=Decimal("500")
    )
    client.force_login(user_with(role))

    response = client.post(reverse("escalations:approve", args=[escalation.pk]))

    escalation.refresh_from_db()
    assert escalation.status == ("approved" if approves else "requested")
    assert response.status_code == (302 if approves else 403)


@pytest.mark.parametrize(
    ("role", "member", "acknowledges"),
    [
        ("Agent", True, False),  # lacks the permission even if listed
        ("Senior agent", True, True),
        ("Senior agent", False, False),
        ("Manager", False, False),
        ("Manager", True, True),
        (None, True, False),
    ],
)
def test_acknowledge_permission_needs_role_and_membership(
    client, agent, role, member, acknowledges
):
    incident = IncidentFactory()
    tier = Tier.objects.get(policy=incident.policy, key="carrier")
    user = user_with(role)
    if member:
        tier.members.add(user)
    else:
        tier.members.add(UserFactory(username="carrier-member", role="Senior agent"))
    (escalation,) = request_test_escalation(
        incident,
        agent,
        tier_key="carrier",
        path="carrier",
        path_details={
            "carrier_issue": "Port-in stuck",
            "carrier_name": "AT&T",
            "attempts": "Nov 1 → rejected",
            "carrier_request": "Release the number",
        },
    )
    client.force_login(user)

    response = client.post(
        reverse("escalations:acknowledge", args=[escalation.pk]), follow=False
    )

    escalation.refresh_from_db()
    assert (escalation.status == "acknowledged") is acknowledges
    assert response.status_code in (302, 403)


def test_escalate_form_shows_matching_rules_and_preselects_tiers(agent_client):
    incident = IncidentFactory(customer__is_vip=True)

    response = agent_client.get(reverse("escalations:escalate", args=[incident.pk]))

    page = response.content.decode()
    assert "VIP or influencer customer" in page
    # Where the rule comes from, in words an agent can look up.
    assert "From the Carrier escalation guide, when to escalate, item 10." in page
    assert "002 DO" not in page
    l2 = Tier.objects.get(policy=incident.policy, key="l2")
    assert l2.pk in response.context["form"].initial["tiers"]


def test_escalate_form_reports_missing_path_field(agent_client, senior):
    incident = IncidentFactory()
    data = escalate_post(incident, path="carrier")
    data["tiers"] = [Tier.objects.get(policy=incident.policy, key="l2").pk]

    response = agent_client.post(
        reverse("escalations:escalate", args=[incident.pk]), data
    )

    assert response.status_code == 200
    assert "carrier__carrier_issue" in response.context["form"].errors
    assert not Escalation.objects.exists()


def test_escalate_form_reports_tier_without_members(agent_client):
    incident = IncidentFactory()

    response = agent_client.post(
        reverse("escalations:escalate", args=[incident.pk]), escalate_post(incident)
    )

    assert response.status_code == 200
    assert "has no members" in response.content.decode()


@pytest.mark.parametrize(
    "junk",
    [
        {"path": "nonsense"},
        {"tiers": ["abc"]},
        {"refund_amount": "lots"},
        {"port_in_rejections": "-4"},
        {"first_reported_on": "32/13/2020"},
        {"summary": "x\x00y"},
    ],
)
def test_escalate_form_never_fails_on_junk(agent_client, senior, junk):
    incident = IncidentFactory()

    response = agent_client.post(
        reverse("escalations:escalate", args=[incident.pk]),
        escalate_post(incident, **junk),
    )

    assert response.status_code == 200
    assert not Escalation.objects.exists()


def test_second_decision_shows_a_message(client, agent, senior, manager, other_manager):
    (escalation,) = request_test_escalation(
        IncidentFactory(), agent, refund_amount=Decimal("500")
    )
    client.force_login(manager)
    client.post(reverse("escalations:approve", args=[escalation.pk]))
    client.force_login(other_manager)

    response = client.post(
        reverse("escalations:reject", args=[escalation.pk]),
        {"reason": "no"},
        follow=True,
    )

    assert "already decided" in response.content.decode()


def test_tier_queue_query_count_is_flat(
    client, agent, senior, django_assert_num_queries
):
    client.force_login(senior)
    tier = Tier.objects.get(policy__name="Carrier playbook", key="l2")
    url = reverse("escalations:tier_queue", args=[tier.pk])
    request_test_escalation(IncidentFactory(), agent)
    request_test_escalation(IncidentFactory(priority=Priority.P2), agent)
    client.get(url)  # warm caches (content types, sessions)

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for _ in range(5):
        request_test_escalation(IncidentFactory(), agent)
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)

    assert len(response.context["rows"]) == 7
    assert len(many) == len(few)


def test_approvals_query_count_is_flat(client, agent, senior, manager):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(manager)
    url = reverse("escalations:approvals")
    request_test_escalation(IncidentFactory(), agent, refund_amount=Decimal("200"))
    request_test_escalation(IncidentFactory(), agent, refund_amount=Decimal("200"))
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for _ in range(4):
        request_test_escalation(IncidentFactory(), agent, refund_amount=Decimal("200"))
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)

    assert b"Escalation approvals" in response.content
    assert len(many) == len(few)


def test_incident_tab_lists_escalations(agent_client, agent, senior):
    incident = IncidentFactory()
    request_test_escalation(incident, agent)

    response = agent_client.get(
        reverse("escalations:incident_escalations", args=[incident.pk])
    )

    assert response.status_code == 200
    assert b"Escalated" in response.content
    assert b"Port-in keeps failing" in response.content


def test_navigation_counts_escalation_approvals_for_managers_only(
    client, agent, senior, manager
):
    request_test_escalation(IncidentFactory(), agent, refund_amount=Decimal("200"))

    client.force_login(manager)
    managers_page = client.get(reverse("escalations:tiers"))
    client.force_login(agent)
    agents_page = client.get(reverse("escalations:tiers"))

    assert b"1 escalation waiting for approval" in managers_page.content
    assert b"Escalation approvals" not in agents_page.content


@pytest.mark.django_db
def test_the_timeline_names_the_tier_and_the_rules_behind_an_escalation(
    agent_client, agent, senior
):
    incident = IncidentFactory()
    request_test_escalation(incident, agent, refund_amount=Decimal("200"))

    page = agent_client.get(incident.get_absolute_url()).content.decode()

    tier = Tier.objects.get(policy=incident.policy, key="l2")
    entry = page[page.index("<strong>Escalation requested</strong>") :][:600]
    assert f"· {tier.name}" in entry
    assert "rules that matched:" in entry


def test_an_escalation_cards_links_open_the_composer_filled_in(
    agent_client, agent, senior
):
    import html
    import re

    incident = IncidentFactory()
    request_test_escalation(incident, agent)

    tab = agent_client.get(
        reverse("escalations:incident_escalations", args=[incident.pk])
    ).content.decode()
    links = {
        html.unescape(label): html.unescape(href)
        for href, label in re.findall(
            r'<a class="btn[^"]*" href="([^"]*)">([^<]*)</a>', tab
        )
    }
    customer = agent_client.get(links["Update the customer on this escalation"])
    internal = agent_client.get(links["Write an internal update"])

    initial = customer.context["form"].initial
    assert initial["audience"] == "customer" and initial["stage"] == "escalation"
    assert initial["situation"] == "to_l2"
    assert incident.reference in initial["subject"] and initial["body"].strip()
    initial = internal.context["form"].initial
    assert initial["audience"] == "internal" and initial["stage"] == "escalation"
    assert initial["body"].strip()


def test_an_escalation_with_no_requester_or_rule_is_the_portals(agent_client):
    from escalations.models import Escalation, Tier

    incident = IncidentFactory()
    Escalation.objects.create(
        incident=incident,
        path="l2",
        to_tier=Tier.objects.get(policy=incident.policy, key="l2"),
        summary="Raised by an import",
        urgency="medium",
        created_at=incident.created_at,
    )

    tab = agent_client.get(
        reverse("escalations:incident_escalations", args=[incident.pk])
    ).content.decode()

    assert (
        "by the portal's automation" in tab or "by the portal&#x27;s automation" in tab
    )
    assert "by rule “”" not in tab


def test_an_escalation_awaiting_approval_offers_no_customer_update(
    agent_client, agent, senior
):
    incident = IncidentFactory()
    (escalation,) = request_test_escalation(
        incident, agent, refund_amount=Decimal("200")
    )

    tab = agent_client.get(
        reverse("escalations:incident_escalations", args=[incident.pk])
    ).content.decode()

    assert escalation.needs_approval and escalation.reached_tier_at is None
    assert "Update the customer on this escalation" not in tab
    assert "Write an internal update" in tab


def test_an_approval_card_carries_what_was_tried_and_the_refund(
    client, agent, senior, manager
):
    from tests.factories import escalation_note

    incident = IncidentFactory()
    request_test_escalation(
        incident,
        agent,
        refund_amount=Decimal("180.00"),
        flags=["troubleshooting_exhausted"],
        note=escalation_note(tried="Reset the network → no change"),
    )
    client.force_login(manager)

    page = client.get(reverse("escalations:approvals")).content.decode()

    assert "Reset the network → no change" in page
    assert 'Refund asked</dt><dd class="col-sm-10">180.00' in page
    assert "rules that matched:" in page and "Refund above $100" in page
