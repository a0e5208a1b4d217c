"""Communication plans for major incidents (communication plan template)."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from comms.models import Audience, DeliveryRule
from comms.plans import plan_prefill
from incidents import services
from incidents.models import (
    CommunicationPlan,
    CommunicationPlanRow,
    PlanSection,
    Priority,
    TimelineEvent,
)
from tests.factories import CustomerFactory, IncidentFactory, start_test_plan


def _rows(plan):
    return {
        (row.section.section, row.key): row
        for row in CommunicationPlanRow.objects.filter(
            section__plan=plan
        ).select_related("section")
    }


@pytest.mark.django_db
def test_plan_has_seed_003s_six_sections_from_the_default_template(agent):
    plan = start_test_plan(IncidentFactory(priority=Priority.P1, owner=agent), agent)

    assert [s.section for s in plan.sections.all()] == list(PlanSection.values)
    assert plan.status == CommunicationPlan.Status.DRAFT
    assert plan.category == "Customer Success"
    assert plan.version == 1


@pytest.mark.django_db
def test_prefill_fills_audience_cadence_templates_and_follow_ups(frozen_now, agent):
    customer = CustomerFactory(name="Fleet Corp", renewal_on=dt.date(2027, 1, 31))
    incident = IncidentFactory(priority=Priority.P1, owner=agent, customer=customer)
    DeliveryRule.objects.create(
        audience=Audience.CUSTOMER, priority="P1", mode=DeliveryRule.Mode.APPROVAL
    )

    plan = start_test_plan(incident, agent)

    rows = _rows(plan)
    assert "Fleet Corp" in rows[("audience", "named_accounts")].details
    # Carrier playbook P1 cadence: team every 2 h, customer every 4 h.
    ongoing = rows[("message_timeline", "ongoing_updates")].details
    assert "Internal every 2 h" in ongoing and "Customer every 4 h" in ongoing
    assert "approval" in rows[("approval_flow", "approval_rule")].details
    assert rows[("templates", "template_initial")].details
    renewal = rows[("follow_up", "renewal_risk")]
    assert renewal.due_on == dt.date(2027, 1, 31)
    for key in ("rca_sent", "credit", "renewal_risk", "executive_follow_up"):
        row = rows[("follow_up", key)]
        assert row.owner and row.due_on, key


@pytest.mark.django_db
def test_prefill_lists_every_affected_customer_of_a_systemic_incident(agent):
    incident = IncidentFactory(priority=Priority.P3, customer=None, is_systemic=True)
    for name in ("Alpha Ltd", "Beta GmbH"):
        services.add_affected_customer(
            incident=incident, actor=agent, customer=CustomerFactory(name=name)
        )

    rows = {(r["section"], r["key"]): r for r in plan_prefill(incident)}

    assert rows[("audience", "named_accounts")]["details"] == "Alpha Ltd, Beta GmbH"


@pytest.mark.django_db
def test_minor_incidents_get_no_plan(agent):
    with pytest.raises(ValidationError) as exc_info:
        start_test_plan(IncidentFactory(priority=Priority.P3), agent)

    assert exc_info.value.code == "not_major"
    assert not CommunicationPlan.objects.exists()


@pytest.mark.django_db
def test_plan_approval_by_its_author_is_refused(manager):
    plan = start_test_plan(IncidentFactory(priority=Priority.P2), manager)
    services.submit_communication_plan(plan=plan, actor=manager)

    with pytest.raises(ValidationError) as exc_info:
        services.approve_communication_plan(plan=plan, actor=manager)

    assert exc_info.value.code == "own_plan"
    plan.refresh_from_db()
    assert plan.status == CommunicationPlan.Status.IN_REVIEW


@pytest.mark.django_db
def test_plan_approval_by_whoever_submitted_it_is_refused(
    agent, manager, other_manager
):
    plan = start_test_plan(IncidentFactory(priority=Priority.P2), agent)
    services.submit_communication_plan(plan=plan, actor=manager)

    with pytest.raises(ValidationError) as exc_info:
        services.approve_communication_plan(plan=plan, actor=manager)

    assert exc_info.value.code == "own_plan"


@pytest.mark.django_db
def test_plan_approval_follows_its_status(agent, manager):
    plan = start_test_plan(IncidentFactory(priority=Priority.P2), agent)
    with pytest.raises(ValidationError) as exc_info:
        services.approve_communication_plan(plan=plan, actor=manager)
    assert exc_info.value.code == "not_in_review"

    services.submit_communication_plan(plan=plan, actor=agent)
    services.approve_communication_plan(plan=plan, actor=manager)

    plan.refresh_from_db()
    assert plan.status == CommunicationPlan.Status.APPROVED
    assert plan.approved_by == manager
    changes = [
        e.details["change"]
        for e in TimelineEvent.objects.filter(
            kind=TimelineEvent.Kind.COMMUNICATION_PLAN_CHANGED
        )
    ]
    assert changes == ["started", "submitted", "approved"]


@pytest.mark.django_db
def test_agents_cannot_approve(agent, other_agent):
    plan = start_test_plan(IncidentFactory(priority=Priority.P2), agent)
    services.submit_communication_plan(plan=plan, actor=agent)

    with pytest.raises(ValidationError) as exc_info:
        services.approve_communication_plan(plan=plan, actor=other_agent)

    assert exc_info.value.code == "not_allowed"


@pytest.mark.django_db
def test_changing_an_approved_plan_makes_a_new_draft_version(agent, manager):
    plan = start_test_plan(IncidentFactory(priority=Priority.P2), agent)
    services.submit_communication_plan(plan=plan, actor=agent)
    services.approve_communication_plan(plan=plan, actor=manager)
    row = CommunicationPlanRow.objects.filter(section__plan=plan).first()

    services.edit_plan_row(
        row=row,
        actor=agent,
        item=row.item,
        details="Changed",
        owner=row.owner,
        due_on=row.due_on,
        status="complete",
    )

    plan.refresh_from_db()
    assert (plan.status, plan.version, plan.approved_by) == ("draft", 2, None)


@pytest.mark.django_db
def test_a_row_without_an_item_is_refused(agent):
    plan = start_test_plan(IncidentFactory(priority=Priority.P1), agent)
    section = plan.sections.get(section="audience")
    before = section.rows.count()

    with pytest.raises(ValidationError):
        services.add_plan_row(section=section, actor=agent, item="  ")

    assert section.rows.count() == before


# --- Pages ----------------------------------------------------------------


@pytest.mark.django_db
def test_start_from_the_page_prefills_and_shows_the_plan(agent_client, agent):
    incident = IncidentFactory(priority=Priority.P1, owner=agent)

    response = agent_client.post(reverse("comms:plan_start", args=[incident.pk]))

    assert response.url == reverse("incidents:plan", args=[incident.pk])
    page = agent_client.get(response.url).content.decode()
    assert "Post-incident follow-up" in page
    assert "Root-cause analysis sent" in page


@pytest.mark.django_db
def test_the_plans_status_row_reads_the_incidents_status_now(agent_client, agent):
    import re

    incident = IncidentFactory(priority=Priority.P1, owner=agent)
    start_test_plan(incident, agent)
    url = reverse("incidents:plan", args=[incident.pk])

    def status_row() -> str:
        page = agent_client.get(url).content.decode()
        row = page[page.index("Current status") :]
        return re.search(r'name="details"[^>]*>(.*?)</textarea>', row, re.S)[1]

    assert status_row() == "New"

    services.move_incident(incident=incident, actor=agent, to_status="investigating")

    assert status_row() == "Investigating"


@pytest.mark.django_db
def test_self_approval_from_the_page_shows_a_message(client, manager):
    plan = start_test_plan(IncidentFactory(priority=Priority.P1), manager)
    services.submit_communication_plan(plan=plan, actor=manager)
    client.force_login(manager)

    response = client.post(
        reverse("incidents:plan_approve", args=[plan.incident_id]), follow=True
    )

    assert "someone else must approve it" in response.content.decode()
    plan.refresh_from_db()
    assert plan.status == "in_review"


@pytest.mark.django_db
def test_bad_row_date_is_a_message_not_a_500(agent_client, agent):
    plan = start_test_plan(IncidentFactory(priority=Priority.P1), agent)
    section = plan.sections.first()

    response = agent_client.post(
        reverse("incidents:plan_row_add", args=[plan.incident_id, section.pk]),
        {"item": "Call", "due_on": "31/31/2026", "status": "open"},
        follow=True,
    )

    assert response.status_code == 200
    assert "valid date" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("extra", [0, 10])
def test_plan_page_query_count_is_constant(
    agent_client, agent, extra, django_assert_max_num_queries
):
    plan = start_test_plan(IncidentFactory(priority=Priority.P1), agent)
    section = plan.sections.first()
    for n in range(extra):
        services.add_plan_row(section=section, actor=agent, item=f"Row {n}")

    with django_assert_max_num_queries(12):
        response = agent_client.get(reverse("incidents:plan", args=[plan.incident_id]))

    assert response.status_code == 200


@pytest.mark.django_db
def test_the_sweep_starts_the_plan_of_every_major_incident_once(frozen_now):
    from comms.services import plans as plan_services

    major = IncidentFactory(priority="P2")
    systemic = IncidentFactory(priority="P3", is_systemic=True)
    minor = IncidentFactory(priority="P3")
    closed_major = IncidentFactory(priority="P1", status="closed")

    started = plan_services.start_missing_plans(frozen_now)
    again = plan_services.start_missing_plans(frozen_now)

    assert (started, again) == (2, 0)
    assert CommunicationPlan.objects.filter(incident__in=[major, systemic]).count() == 2
    assert not CommunicationPlan.objects.filter(
        incident__in=[minor, closed_major]
    ).exists()
    plan = CommunicationPlan.objects.get(incident=major)
    assert plan.created_by is None and _rows(plan)
