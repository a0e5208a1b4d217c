"""The home page: what the signed-in person should do next."""

import datetime as dt

import pytest
from django.db import connection
from django.db.models import Count
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from comms.models import Message
from incidents.models import Incident, Priority
from tests.factories import IncidentFactory, send_test_message


@pytest.mark.django_db
def test_signing_in_lands_on_my_work(client, agent):
    response = client.post(
        reverse("login"), {"username": agent.username, "password": "pw-for-tests"}
    )

    assert response.url == reverse("home")


@pytest.mark.django_db
def test_my_open_incidents_come_nearest_deadline_first(agent_client, agent):
    later = IncidentFactory(priority=Priority.P4, owner=agent, title="Low one")
    sooner = IncidentFactory(priority=Priority.P1, owner=agent, title="Urgent one")
    IncidentFactory(priority=Priority.P1, title="Someone else's")

    response = agent_client.get(reverse("home"))

    assert [i for i, _ in response.context["mine"]] == [sooner, later]
    assert b"Someone else" not in response.content.split(b"Needs pickup")[0]


@pytest.mark.django_db
def test_updates_due_follow_the_policy_cadence(agent_client, agent, frozen_now):
    incident = IncidentFactory(priority=Priority.P2, owner=agent)

    rows = agent_client.get(reverse("home")).context["updates_due"]

    # Carrier playbook P2: the team every 8 hours, the customer every 12.
    due = {row["audience"]: row["due_at"] - frozen_now for row in rows}
    assert due == {
        "Internal": incident.created_at - frozen_now + 8 * _hour(),
        "Customer": incident.created_at - frozen_now + 12 * _hour(),
    }


def _hour():
    import datetime as dt

    return dt.timedelta(hours=1)


@pytest.mark.django_db
def test_an_overdue_customer_update_is_flagged(
    agent_client, agent, frozen_now, time_machine
):
    IncidentFactory(priority=Priority.P1, owner=agent)
    time_machine.move_to(frozen_now + 5 * _hour(), tick=False)

    page = agent_client.get(reverse("home")).content.decode()

    assert "overdue since" in page


@pytest.mark.django_db
def test_unassigned_incidents_can_be_taken_from_the_home_page(agent_client, agent):
    incident = IncidentFactory()
    page = agent_client.get(reverse("home")).content.decode()
    assert "Assign to me" in page

    response = agent_client.post(
        reverse("incidents:take", args=[incident.pk]),
        {"version": incident.version, "next": reverse("home")},
    )

    assert response.url == reverse("home")
    incident.refresh_from_db()
    assert incident.owner == agent


@pytest.mark.django_db
def test_taking_an_incident_someone_just_changed_is_refused(agent_client, agent):
    incident = IncidentFactory()
    stale_version = incident.version
    from incidents import services

    services.move_incident(incident=incident, actor=None, to_status="investigating")

    agent_client.post(
        reverse("incidents:take", args=[incident.pk]), {"version": stale_version}
    )

    incident.refresh_from_db()
    assert incident.owner is None


@pytest.mark.django_db
def test_the_list_offers_assign_to_me_on_unassigned_rows(agent_client):
    IncidentFactory()

    page = agent_client.get(reverse("incidents:list")).content.decode()

    assert "Assign to me" in page


@pytest.mark.django_db
def test_managers_see_approvals_and_every_failed_delivery(client, agent, manager):
    incident = IncidentFactory(priority=Priority.P1, owner=agent)
    send_test_message(incident, agent)
    failed = send_test_message(
        IncidentFactory(priority=Priority.P3), agent, stage="creation"
    )
    Message.objects.filter(pk=failed.pk).update(
        status=Message.Status.FAILED, last_error="550 mailbox unavailable"
    )
    client.force_login(manager)

    response = client.get(reverse("home"))

    assert len(response.context["approvals"]) == 1
    assert "550 mailbox unavailable" in response.content.decode()


@pytest.mark.django_db
def test_agents_see_their_drafts_and_rejected_messages(agent_client, agent, manager):
    from comms import services

    incident = IncidentFactory(priority=Priority.P1, owner=agent)
    message = send_test_message(incident, agent)
    services.reject_message(message=message, actor=manager, reason="Say when.")

    page = agent_client.get(reverse("home")).content.decode()

    assert "Say when." in page
    assert "Waiting for my approval" not in page


@pytest.mark.django_db
@pytest.mark.parametrize("count", [3, 20])
def test_my_work_query_count_is_constant(agent_client, agent, count):
    for n in range(count):
        incident = IncidentFactory(owner=agent if n % 2 else None)
        send_test_message(incident, agent, stage="creation", follow_up_number=None)

    with CaptureQueriesContext(connection) as queries:
        response = agent_client.get(reverse("home"))

    assert response.status_code == 200
    # session, user, permissions, my incidents, last updates, targets,
    # unassigned, my drafts, failed deliveries, overdue post-mortem actions,
    # what the portal will write, credits I may decide, credits to decide
    # (navigation)
    assert len(queries) == 13, [q["sql"][:80] for q in queries]
    assert Incident.objects.count() == count


@pytest.mark.django_db
@pytest.mark.parametrize("count", [1, 8])
def test_my_work_query_count_holds_with_overdue_actions(
    client, manager, count, frozen_now, time_machine
):
    from tests.factories import publishable_postmortem

    for _ in range(count):
        publishable_postmortem(manager)
    time_machine.move_to(frozen_now + dt.timedelta(days=30), tick=False)
    client.force_login(manager)

    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("home"))

    assert len(response.context["overdue_actions"]) == count
    # The same whatever the number of overdue actions (a manager also sees
    # the escalation approvals badge).
    # A reviewer also reads the escalations, post-mortems, plans and Legal
    # approvals waiting for them.
    assert len(queries) == 18, [q["sql"][:80] for q in queries]


@pytest.mark.django_db
def test_a_managers_home_page_lists_every_decision_waiting_oldest_first(
    client, agent, manager, frozen_now, time_machine
):
    import datetime as dt

    from incidents import services as incident_services
    from tests.factories import (
        UserFactory,
        publishable_postmortem,
        request_test_credit,
        request_test_escalation,
    )

    UserFactory(username="l2-member", role="Senior agent")
    postmortem = publishable_postmortem(agent)
    incident_services.submit_postmortem_for_review(postmortem=postmortem, actor=agent)
    time_machine.move_to(frozen_now + dt.timedelta(minutes=5), tick=False)
    credit = request_test_credit(IncidentFactory(), agent, amount="80.00")
    time_machine.move_to(frozen_now + dt.timedelta(minutes=10), tick=False)
    (escalation,) = request_test_escalation(
        IncidentFactory(), agent, tier_key="management", path="l2"
    )
    client.force_login(manager)

    page = client.get(reverse("home")).content.decode()

    assert "Decisions waiting for me" in page
    order = [
        page.index(postmortem.incident.reference),
        page.index(credit.incident.reference),
    ]
    assert order == sorted(order)
    assert "Charged" in page or credit.reason[:20] in page
    assert "Post-mortem" in page and "Credit" in page


@pytest.mark.django_db
def test_each_decision_card_carries_what_the_decider_needs(client, agent, manager):
    from decimal import Decimal

    from incidents import services as incident_services
    from tests.factories import UserFactory, escalation_note, request_test_escalation

    UserFactory(username="l2-member", role="Senior agent")
    (escalation,) = request_test_escalation(
        IncidentFactory(priority=Priority.P2),
        agent,
        tier_key="l2",
        path="l2",
        refund_amount=Decimal("150.00"),
        flags=["troubleshooting_exhausted"],
        note=escalation_note(
            tried="Reset network → no change\nReissued the eSIM → install fails"
        ),
    )
    held = IncidentFactory(priority=Priority.P1, owner=agent)
    message = send_test_message(held, agent)
    incident_services.flag_security_incident(
        incident=held,
        actor=agent,
        incident_type="data_breach",
    )
    client.force_login(manager)

    page = client.get(reverse("home")).content.decode()

    assert escalation.needs_approval and message.status == "awaiting_approval"
    assert "Refund asked: 150.00" in page
    assert "Tried: Reset network → no change; Reissued the eSIM → install" in page
    assert "SLA: running, resolve by" in page
    assert f"To {', '.join(message.recipients)}" in page
    assert "Legal has not approved telling customers" in page
    assert "Waiting for my approval" not in page
    # Every rule that matched, not only the one that asked for approval.
    assert "Approval asked by the rule “Refund above $100”" in page
    assert "Rules that matched: " in page
    rules = page[page.index("Rules that matched: ") :].split("<", 1)[0]
    assert "Still failing after every troubleshooting step" in rules
    assert "Refund above $100" in rules
    # Decide opens that very card on its queue page.
    assert f'href="/escalations/approvals/#escalation-{escalation.pk}"' in page
    assert f'href="/messages/approvals/#message-{message.pk}"' in page


@pytest.mark.django_db
def test_plan_and_legal_cards_say_what_waits_and_open_their_page(
    client, agent, manager
):
    from incidents import services as incident_services
    from tests.factories import start_test_plan

    major = IncidentFactory(priority=Priority.P1, title="Trip sync down")
    plan = start_test_plan(major, agent)
    incident_services.submit_communication_plan(plan=plan, actor=agent)
    breach = IncidentFactory(priority=Priority.P2, title="Odd log-ins")
    incident_services.flag_security_incident(
        incident=breach, actor=agent, incident_type="data_breach"
    )
    client.force_login(manager)

    page = client.get(reverse("home")).content.decode()

    rows = plan.sections.aggregate(n=Count("rows"))["n"]
    assert rows > 0
    assert f"Version {plan.version} · {rows} rows · reviewed" in page
    assert f"Submitted by {agent.get_full_name()}" in page
    assert reverse("incidents:plan", args=[major.pk]) in page
    assert "Legal approval" in page
    assert reverse("incidents:security", args=[breach.pk]) in page


@pytest.mark.django_db
@pytest.mark.parametrize("waiting", [1, 4])
def test_my_work_reads_the_same_queries_however_many_escalations_wait(
    client, agent, manager, waiting
):
    from decimal import Decimal

    from tests.factories import UserFactory, request_test_escalation

    UserFactory(username="l2-member", role="Senior agent")
    for _ in range(waiting):
        request_test_escalation(
            IncidentFactory(), agent, refund_amount=Decimal("150.00")
        )
    client.force_login(manager)

    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("home")).content.decode()

    assert page.count("Approval asked by the rule") == waiting
    # The manager's reads (see above) and the escalations' request rows.
    assert len(queries) == 19, [q["sql"][:80] for q in queries]
