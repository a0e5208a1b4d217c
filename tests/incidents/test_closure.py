"""Resolve, closure checklists, the close guard, recurrence and the archive."""

import datetime as dt
import threading

import pytest
from django.contrib.admin.sites import site as admin_site_unused  # noqa: F401
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse

from incidents import selectors, services
from incidents.models import (
    Incident,
    IncidentChecklist,
    IncidentChecklistItem,
    Policy,
    TimelineEvent,
)
from tests.assertions import error_codes
from tests.factories import (
    ChecklistTemplateItemFactory,
    CustomerFactory,
    IncidentFactory,
    settle_checklists,
)

S = Incident.Status
K = TimelineEvent.Kind
H = dt.timedelta(hours=1)


def resolve(incident, actor, **overrides):
    fields = {
        "root_cause": "The provisioning queue stalled.",
        "fix_summary": "We restarted the queue and re-sent your profile.",
        "customer_summary": "Your eSIM could not activate.",
        "verification": ["system_check"],
    }
    return services.resolve_incident(
        incident=incident, actor=actor, **{**fields, **overrides}
    )


def items(incident, **filters):
    return IncidentChecklistItem.objects.filter(checklist__incident=incident, **filters)


def item(incident, text_start):
    return items(incident).get(text__startswith=text_start)


def event(incident, kind, actor=None, **details):
    return services.record_timeline_event(
        incident=incident, kind=kind, actor=actor, details=details
    )


def customer_policy(name):
    return CustomerFactory(policy=Policy.objects.get(name=name))


@pytest.mark.django_db
def test_resolve_incident_records_resolution_and_starts_monitoring(agent, frozen_now):
    incident = IncidentFactory(priority="P1", status=S.INVESTIGATING)

    incident = resolve(incident, agent, verification=["system_check", "monitoring"])

    incident.refresh_from_db()
    assert incident.status == S.RESOLVED
    assert incident.fix_summary.startswith("We restarted")
    assert incident.monitoring_ends_at == incident.resolved_at + 48 * H
    recorded = incident.timeline_events.filter(kind=K.RESOLUTION_RECORDED).get()
    assert recorded.details["verification"] == ["system_check", "monitoring"]
    assert recorded.actor == agent


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("policy", "priority", "hours"),
    [
        ("Carrier playbook", "P2", 48),
        ("Carrier playbook", "P3", 24),
        ("Automation agency", "P1", 24),
    ],
)
def test_monitoring_window_comes_from_the_policy(agent, policy, priority, hours):
    incident = IncidentFactory(
        priority=priority, customer=customer_policy(policy), status=S.INVESTIGATING
    )

    incident = resolve(incident, agent)

    assert incident.monitoring_ends_at - incident.resolved_at == hours * H


@pytest.mark.django_db
def test_resolve_incident_refuses_missing_facts_and_changes_nothing(agent):
    incident = IncidentFactory(status=S.INVESTIGATING)

    with pytest.raises(ValidationError) as exc_info:
        resolve(
            incident,
            agent,
            root_cause=" ",
            fix_summary="",
            customer_summary="",
            verification=[],
        )

    assert error_codes(exc_info.value) == {
        "root_cause_required",
        "fix_required",
        "customer_summary_required",
        "verification_required",
    }
    incident.refresh_from_db()
    assert incident.status == S.INVESTIGATING
    assert not IncidentChecklist.objects.filter(incident=incident).exists()


@pytest.mark.django_db
def test_carrier_closure_checklist_attaches_items_whose_conditions_hold(agent):
    plain = IncidentFactory(priority="P3", status=S.INVESTIGATING)
    major = IncidentFactory(
        priority="P1",
        status=S.INVESTIGATING,
        is_partner_action_needed=True,
        partner_action_details="Re-push the port.",
    )

    resolve(plain, agent)
    resolve(major, agent)

    # 18 items; partner, vendor, billing, credits and post-mortem are conditional.
    assert items(plain).count() == 13
    assert items(major).count() == 15
    assert set(items(plain).values_list("group", flat=True)) == {
        "Resolution verified",
        "Stakeholders notified",
        "Financials",
        "Documentation",
        "Follow-up",
    }
    assert item(major, "Post-mortem scheduled")
    assert item(major, "Partner told")


@pytest.mark.django_db
def test_agency_policy_gets_verification_and_follow_up_lists(agent):
    incident = IncidentFactory(
        customer=customer_policy("Automation agency"), status=S.INVESTIGATING
    )

    resolve(incident, agent)

    names = sorted(
        IncidentChecklist.objects.filter(incident=incident).values_list(
            "name", flat=True
        )
    )
    assert names == ["Post-resolution follow-up", "Resolution verification"]
    assert items(incident).count() == 9


@pytest.mark.django_db
@pytest.mark.parametrize("policy", ["Automation agency", "Fleet SaaS"])
def test_every_policys_major_incident_needs_a_post_mortem_to_close(agent, policy):
    major = IncidentFactory(
        customer=customer_policy(policy), priority="P2", status=S.INVESTIGATING
    )
    minor = IncidentFactory(
        customer=customer_policy(policy), priority="P4", status=S.INVESTIGATING
    )

    major, minor = resolve(major, agent), resolve(minor, agent)

    assert "Post-mortem scheduled or published" in " ".join(
        services.closure_blockers(major)
    )
    assert "Post-mortem" not in " ".join(services.closure_blockers(minor))


@pytest.mark.django_db
def test_a_minor_fleet_incident_resolved_waits_for_its_own_closure_checks(agent):
    # The fleet playbook's resolution notice: cause, fix, how to check, and
    # the customer's word; then the knowledge base.
    minor = IncidentFactory(
        customer=customer_policy("Fleet SaaS"), priority="P4", status=S.INVESTIGATING
    )

    minor = resolve(minor, agent)

    blockers = " ".join(services.closure_blockers(minor))
    assert "Customer confirmed it works, or the wait passed" in blockers
    assert "Knowledge base article written if the issue was new" in blockers


@pytest.mark.django_db
def test_escalation_checklist_attaches_when_a_fleet_incident_is_escalated(agent):
    incident = IncidentFactory(
        customer=customer_policy("Fleet SaaS"), status=S.INVESTIGATING
    )
    services.refresh_checklists(incident=incident, actor=None)
    assert not IncidentChecklist.objects.filter(incident=incident).exists()
    event(incident, K.ESCALATION_REQUESTED, escalation=1, tier="L2", path="l2")

    services.due_work(dt.datetime.now(dt.UTC))

    checklist = IncidentChecklist.objects.get(incident=incident)
    assert checklist.name == "Escalation checklist"
    assert set(checklist.items.values_list("group", flat=True)) == {
        "Before escalating",
        "When escalating",
        "After escalating",
    }
    assert checklist.items.count() == 18


@pytest.mark.django_db
def test_checks_confirmed_on_the_escalate_page_tick_the_checklist(agent):
    from escalations.models import PreEscalationCheck
    from tests.factories import UserFactory, confirmed_checks, request_test_escalation

    UserFactory(username="tier2-member", role="Senior agent")
    incident = IncidentFactory(
        customer=customer_policy("Fleet SaaS"), status=S.INVESTIGATING
    )
    checks = confirmed_checks(incident.policy)
    logs = PreEscalationCheck.objects.get(
        policy=incident.policy, text="Logs and screenshots are collected."
    )
    checks[logs.pk] = "The app crashes before it can write logs."
    request_test_escalation(
        incident,
        agent,
        tier_key="tier2",
        path="tier1_to_tier2",
        checks=checks,
        path_details={"customer_impact": "Cannot log trips", "frequency": "Recurring"},
    )

    services.due_work(dt.datetime.now(dt.UTC))

    tried = item(incident, "Tried every troubleshooting step")
    assert tried.state == "done" and tried.settled_by is None
    assert tried.evidence_text == "Confirmed on the Escalate page"
    collected = item(incident, "Collected logs and screenshots")
    assert collected.state == "done"
    assert "crashes before it can write logs" in collected.evidence_text
    assert item(incident, "Escalation ticket written in full").state == "open"


@pytest.mark.django_db
def test_after_a_rules_escalation_an_agent_ticks_the_checks_by_hand(agent):
    # A rule confirms no pre-escalation check: the agent who did it says so.
    incident = IncidentFactory(
        customer=customer_policy("Fleet SaaS"), status=S.INVESTIGATING
    )
    event(incident, K.ESCALATION_TRIGGERED, escalation=1, tier="Tier 2", path="")
    services.due_work(dt.datetime.now(dt.UTC))

    ticked = services.tick_checklist_item(
        item=item(incident, "Tried every troubleshooting step"), actor=agent
    )

    assert ticked.state == "done" and ticked.settled_by == agent


@pytest.mark.django_db
def test_item_that_stops_applying_becomes_not_applicable_by_rule(agent):
    incident = IncidentFactory(
        status=S.INVESTIGATING,
        is_partner_action_needed=True,
        partner_action_details="Re-push the port.",
    )
    incident = resolve(incident, agent)

    services.edit_incident_details(
        incident=incident,
        actor=agent,
        expected_version=incident.version,
        changes={"is_partner_action_needed": False, "partner_action_details": ""},
    )

    partner = item(incident, "Partner told")
    assert partner.state == "not_applicable"
    assert partner.settled_by is None
    assert "partner" in partner.not_applicable_reason


# --- the close guard -------------------------------------------------------


@pytest.mark.django_db
def test_close_incident_refuses_with_open_items_and_lists_them(agent):
    incident = resolve(IncidentFactory(status=S.INVESTIGATING), agent)

    with pytest.raises(ValidationError) as exc_info:
        services.close_incident(incident=incident, actor=agent)

    assert exc_info.value.code == "closure_blocked"
    assert "System status verified" in exc_info.value.messages[0]
    incident.refresh_from_db()
    assert incident.status == S.RESOLVED
    refusal = incident.timeline_events.get(kind=K.CLOSE_REFUSED)
    assert (
        "Closure checklist · Resolution verified: System status verified"
        in (refusal.details["blockers"][0])
    )


@pytest.mark.django_db
def test_same_refusal_is_recorded_once(agent):
    incident = resolve(IncidentFactory(status=S.INVESTIGATING), agent)

    for _ in range(3):
        with pytest.raises(ValidationError):
            services.close_incident(incident=incident, actor=None)

    assert incident.timeline_events.filter(kind=K.CLOSE_REFUSED).count() == 1


@pytest.mark.django_db
def test_every_path_to_closed_goes_through_the_guard(agent, admin_user, rf):
    from django.contrib.messages.storage.fallback import FallbackStorage

    from incidents.admin import IncidentAdmin, close_selected_incidents

    incident = resolve(IncidentFactory(status=S.INVESTIGATING), agent)

    with pytest.raises(ValidationError) as by_move:
        services.move_incident(incident=incident, actor=agent, to_status=S.CLOSED)
    request = rf.post("/")
    request.user = admin_user
    request.session = {}
    request._messages = FallbackStorage(request)
    close_selected_incidents(
        IncidentAdmin(Incident, None), request, Incident.objects.filter(pk=incident.pk)
    )

    assert by_move.value.code == "closure_blocked"
    incident.refresh_from_db()
    assert incident.status == S.RESOLVED
    assert any("Not closed yet" in str(m) for m in request._messages)


@pytest.mark.django_db
def test_close_succeeds_once_every_required_item_is_settled(agent, time_machine):
    incident = resolve(IncidentFactory(status=S.INVESTIGATING), agent)
    for open_item in items(incident, state="open", evidence="none"):
        services.tick_checklist_item(item=open_item, actor=agent)
    event(
        incident,
        K.MESSAGE_SENT,
        message=1,
        audience="customer",
        channel="email",
        subject="Fixed",
        stage="resolution",
    )
    event(
        incident,
        K.MESSAGE_SENT,
        message=2,
        audience="internal",
        channel="chat",
        subject="",
        stage="resolution",
    )
    event(
        incident,
        K.MESSAGE_SENT,
        message=3,
        audience="internal",
        channel="note",
        subject="",
        stage="resolution",
    )
    event(incident, K.REPLY_LOGGED, **{"from": "customer", "confirmed": True})
    with pytest.raises(ValidationError) as too_soon:
        services.close_incident(incident=incident, actor=agent)
    time_machine.move_to(incident.monitoring_ends_at + dt.timedelta(minutes=1))

    incident = services.close_incident(incident=incident, actor=agent)

    assert "monitoring window passed" in too_soon.value.messages[0]
    assert incident.status == S.CLOSED
    assert not items(incident, state="open").exists()


@pytest.mark.django_db
def test_closed_pending_is_not_held_by_resolve_checklists(agent):
    incident = IncidentFactory(status=S.WAITING_CUSTOMER)

    incident = services.close_incident(
        incident=incident, actor=agent, to_status=S.CLOSED_PENDING
    )

    assert incident.status == S.CLOSED_PENDING


@pytest.mark.django_db
def test_a_checklist_can_gate_closed_pending(agent):
    template_item = ChecklistTemplateItemFactory(
        template__attaches_on_resolve=False, template__gates_closed_pending=True
    )
    incident = IncidentFactory(status=S.WAITING_CUSTOMER)

    with pytest.raises(ValidationError) as exc_info:
        services.close_incident(
            incident=incident, actor=agent, to_status=S.CLOSED_PENDING
        )

    assert template_item.text in exc_info.value.messages[0]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("condition", "facts", "expected"),
    [
        ("always", {}, True),
        ("partner_involved", {}, False),
        ("vendor_involved", {"vendor": True}, True),
        ("major", {"priority": "P2"}, True),
        ("major", {"systemic": True}, True),
        ("major", {}, False),
        ("financial_impact", {"paid": True}, True),
        ("credit_requested", {"event": K.CREDIT_REQUESTED}, True),
        ("escalated", {"event": K.ESCALATION_TRIGGERED}, True),
        ("escalated", {}, False),
        ("security", {"event": K.SECURITY_FLAGGED}, True),
    ],
)
def test_close_guard_follows_each_condition(agent, condition, facts, expected):
    from decimal import Decimal

    source = ChecklistTemplateItemFactory(condition=condition)
    incident = IncidentFactory(
        status=S.INVESTIGATING,
        priority=facts.get("priority", "P3"),
        customer=None if facts.get("systemic") else CustomerFactory(),
        is_systemic=bool(facts.get("systemic")),
        is_vendor_action_needed=bool(facts.get("vendor")),
        vendor_action_details="Fix the API." if facts.get("vendor") else "",
        amount_paid=Decimal("20.00") if facts.get("paid") else None,
    )
    if "event" in facts:
        event(incident, facts["event"], credit=1)
    incident = resolve(incident, agent)

    blockers = services.closure_blockers(incident)

    assert any(source.text in line for line in blockers) is expected


# --- evidence ---------------------------------------------------------------


def _resolved(agent, evidence, audience="", **incident_fields):
    source = ChecklistTemplateItemFactory(evidence=evidence, audience=audience)
    incident = resolve(
        IncidentFactory(status=S.INVESTIGATING, **incident_fields), agent
    )
    return incident, source


def _copy(incident, source):
    return IncidentChecklistItem.objects.get(
        checklist__incident=incident, template_item=source
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("evidence", "audience", "script", "expected"),
    [
        (
            "resolution_message_sent",
            "customer",
            [
                (
                    K.MESSAGE_SENT,
                    {
                        "audience": "customer",
                        "channel": "email",
                        "stage": "resolution",
                        "subject": "Fixed",
                    },
                )
            ],
            "Customer resolution message sent: Fixed",
        ),
        (
            "internal_note_posted",
            "",
            [
                (
                    K.MESSAGE_SENT,
                    {
                        "audience": "internal",
                        "channel": "note",
                        "stage": "resolution",
                        "subject": "",
                    },
                )
            ],
            "Internal resolution note posted",
        ),
        (
            "party_confirmed",
            "partner",
            [
                (
                    K.MESSAGE_SENT,
                    {
                        "audience": "partner",
                        "channel": "email",
                        "stage": "resolution",
                        "subject": "Closed",
                    },
                ),
                (K.REPLY_LOGGED, {"from": "partner", "confirmed": False}),
            ],
            "Partner replied after the resolution message",
        ),
        (
            "customer_confirmed_or_72h",
            "",
            [(K.REPLY_LOGGED, {"from": "customer", "confirmed": True})],
            "Customer confirmed it works",
        ),
        (
            "credits_settled",
            "",
            [
                (K.CREDIT_REQUESTED, {"credit": 7, "amount": "25.00"}),
                (K.CREDIT_APPLIED, {"credit": 7, "amount": "25.00"}),
            ],
            "1 credit settled",
        ),
        (
            "postmortem_scheduled",
            "",
            [
                (
                    K.POSTMORTEM_CHANGED,
                    {"postmortem": 1, "status": "draft", "scheduled_on": "2026-12-08"},
                )
            ],
            "Post-mortem scheduled for 2026-12-08",
        ),
        ("root_cause_recorded", "", [], "Root cause: The provisioning queue stalled."),
        ("tags_updated", "", [], "Tagged resolved, no longer in progress"),
        ("resolution_verified", "", [], "Verified by system check"),
        ("monitoring_check_scheduled", "", [], "The monitoring window set on"),
    ],
)
def test_evidence_ticks_items(agent, evidence, audience, script, expected):
    source = ChecklistTemplateItemFactory(evidence=evidence, audience=audience)
    incident = IncidentFactory(status=S.INVESTIGATING)
    for kind, details in script:
        event(incident, kind, **details)

    incident = resolve(incident, agent)

    copy = _copy(incident, source)
    assert copy.state == "done"
    assert copy.settled_by is None
    assert copy.evidence_text.startswith(expected)
    assert copy.evidence_at is not None
    assert incident.timeline_events.filter(
        kind=K.CHECKLIST_ITEM_DONE, details__item_id=copy.pk
    ).exists()


@pytest.mark.django_db
def test_evidence_before_the_latest_reopening_does_not_count(agent):
    incident, source = _resolved(agent, "resolution_message_sent", "customer")
    event(
        incident,
        K.MESSAGE_SENT,
        audience="customer",
        channel="email",
        stage="resolution",
        subject="Fixed",
    )
    incident = services.report_recurrence(incident=incident, actor=agent)
    incident = resolve(incident, agent)

    services.refresh_checklists(incident=incident, actor=None)

    assert _copy(incident, source).state == "open"


@pytest.mark.django_db
def test_customer_silence_ticks_after_the_wait(agent, time_machine):
    incident, source = _resolved(agent, "customer_confirmed_or_72h")
    time_machine.move_to(incident.resolved_at + 71 * H)
    services.refresh_checklists(incident=incident, actor=None)
    assert _copy(incident, source).state == "open"
    time_machine.move_to(incident.resolved_at + 72 * H)

    services.due_work(incident.resolved_at + 72 * H)

    assert _copy(incident, source).evidence_text.startswith("72 h passed")


@pytest.mark.django_db
def test_unsettled_credit_keeps_the_item_open(agent):
    source = ChecklistTemplateItemFactory(evidence="credits_settled")
    incident = IncidentFactory(status=S.INVESTIGATING)
    event(incident, K.CREDIT_REQUESTED, credit=1)
    event(incident, K.CREDIT_REQUESTED, credit=2)
    event(incident, K.CREDIT_REJECTED, credit=1)

    incident = resolve(incident, agent)

    assert _copy(incident, source).state == "open"


# --- ticking by hand, bad input ---------------------------------------------


@pytest.mark.django_db
def test_tick_records_who_and_when(agent):
    incident, source = _resolved(agent, "none")
    copy = _copy(incident, source)

    services.tick_checklist_item(item=copy, actor=agent, note="Checked ConnectX")

    copy.refresh_from_db()
    assert (copy.state, copy.settled_by, copy.evidence_text) == (
        "done",
        agent,
        "Checked ConnectX",
    )
    done = incident.timeline_events.get(kind=K.CHECKLIST_ITEM_DONE, actor=agent)
    assert done.details["item"] == source.text


@pytest.mark.django_db
def test_ticking_twice_is_refused(agent, other_agent):
    incident, source = _resolved(agent, "none")
    copy = _copy(incident, source)
    services.tick_checklist_item(item=copy, actor=agent)

    with pytest.raises(ValidationError) as exc_info:
        services.tick_checklist_item(item=copy, actor=other_agent)

    assert exc_info.value.code == "already_settled"
    assert (
        incident.timeline_events.filter(
            kind=K.CHECKLIST_ITEM_DONE, actor__isnull=False
        ).count()
        == 1
    )


@pytest.mark.django_db
def test_not_applicable_needs_a_reason(agent):
    incident, source = _resolved(agent, "none")
    copy = _copy(incident, source)

    with pytest.raises(ValidationError) as exc_info:
        services.mark_checklist_item_not_applicable(item=copy, actor=agent, reason=" ")
    services.mark_checklist_item_not_applicable(
        item=copy, actor=agent, reason="No billing on trial accounts"
    )

    assert "reason_required" in error_codes(exc_info.value)
    copy.refresh_from_db()
    assert copy.state == "not_applicable"
    assert copy.not_applicable_reason == "No billing on trial accounts"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "evidence",
    [
        "monitoring_window_passed",
        "legal_approved",
        "security_phases_done",
        "customer_confirmed_or_72h",
    ],
)
def test_an_agent_cannot_tick_or_waive_what_the_records_tick(agent, evidence):
    incident, source = _resolved(agent, evidence)

    with pytest.raises(ValidationError) as ticked:
        services.tick_checklist_item(item=_copy(incident, source), actor=agent)
    with pytest.raises(ValidationError) as waived:
        services.mark_checklist_item_not_applicable(
            item=_copy(incident, source), actor=agent, reason="Done elsewhere"
        )

    assert ticked.value.code == waived.value.code == "evidence_item"
    assert _copy(incident, source).state == "open"


@pytest.mark.django_db
def test_an_agent_cannot_tick_credits_settled_while_a_credit_waits(agent):
    from tests.factories import request_test_credit

    source = ChecklistTemplateItemFactory(evidence="credits_settled")
    incident = IncidentFactory(status=S.INVESTIGATING)
    request_test_credit(incident, agent, amount="80.00")
    incident = resolve(incident, agent)
    assert _copy(incident, source).state == "open"

    with pytest.raises(ValidationError) as ticked:
        services.tick_checklist_item(item=_copy(incident, source), actor=agent)

    assert ticked.value.code == "evidence_item"
    assert _copy(incident, source).state == "open"


@pytest.mark.django_db
def test_a_manager_settles_one_by_hand_only_with_a_reason_shown_everywhere(
    agent, manager
):
    incident, source = _resolved(agent, "legal_approved")

    with pytest.raises(ValidationError) as no_reason:
        services.tick_checklist_item(item=_copy(incident, source), actor=manager)
    item = services.tick_checklist_item(
        item=_copy(incident, source),
        actor=manager,
        note="Legal approved by phone; their e-mail follows.",
    )

    assert error_codes(no_reason.value) == {"override_reason_required"}
    assert item.state == "done"
    assert "Legal approved by phone" in item.evidence_text
    event = incident.timeline_events.filter(kind=K.CHECKLIST_ITEM_DONE).latest(
        "created_at", "id"
    )
    assert event.details["overridden"] is True
    assert event.actor == manager


@pytest.mark.django_db
def test_an_agent_cannot_close_inside_the_monitoring_window(agent, manager):
    incident = resolve(IncidentFactory(status=S.INVESTIGATING), agent)
    settle_checklists(incident)

    with pytest.raises(ValidationError) as exc_info:
        services.close_incident(incident=incident, actor=agent)
    closed = services.close_incident(incident=incident, actor=manager)

    assert "only a manager closes sooner" in exc_info.value.messages[0]
    assert closed.status == S.CLOSED


@pytest.mark.django_db
def test_a_person_without_the_role_cannot_tick(agent, user_without_role):
    incident, source = _resolved(agent, "none")

    with pytest.raises(ValidationError) as exc_info:
        services.tick_checklist_item(
            item=_copy(incident, source), actor=user_without_role
        )

    assert exc_info.value.code == "not_allowed"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="Row locks need PostgreSQL; SQLite serialises whole transactions",
)
def test_ticking_the_same_item_at_once_settles_it_once(agent, other_agent):
    incident, source = _resolved(agent, "none")
    copy = _copy(incident, source)
    barrier = threading.Barrier(2)
    outcomes = []

    def tick(actor):
        try:
            barrier.wait()
            services.tick_checklist_item(item=copy, actor=actor)
            outcomes.append("ticked")
        except ValidationError as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=tick, args=(a,)) for a in (agent, other_agent)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["already_settled", "ticked"]
    assert (
        incident.timeline_events.filter(
            kind=K.CHECKLIST_ITEM_DONE, actor__isnull=False
        ).count()
        == 1
    )


# --- recurrence and reopening -----------------------------------------------


@pytest.mark.django_db
def test_recurrence_in_the_window_reopens_keeping_history(agent, time_machine):
    incident, evidence_item = _resolved(agent, "resolution_message_sent", "customer")
    event(
        incident,
        K.MESSAGE_SENT,
        audience="customer",
        channel="email",
        stage="resolution",
        subject="Fixed",
    )
    services.refresh_checklists(incident=incident, actor=None)
    manual = items(incident, evidence="none").first()
    services.tick_checklist_item(item=manual, actor=agent)
    time_machine.move_to(incident.monitoring_ends_at - H)

    incident = services.report_recurrence(
        incident=incident, actor=agent, note="Errors again"
    )

    assert incident.status == S.INVESTIGATING
    assert incident.resolved_at is None and incident.monitoring_ends_at is None
    reopened = incident.timeline_events.filter(kind=K.REOPENED).get()
    assert reopened.details["reason"].startswith("Recurred during the monitoring")
    assert incident.timeline_events.filter(kind=K.RESOLUTION_RECORDED).exists()
    assert _copy(incident, evidence_item).state == "open"
    manual.refresh_from_db()
    assert manual.state == "done"
    checklists = IncidentChecklist.objects.filter(incident=incident).count()
    resolve(incident, agent)
    assert IncidentChecklist.objects.filter(incident=incident).count() == checklists


@pytest.mark.django_db
def test_reopening_a_closed_incident_keeps_its_checklist(agent):
    incident = IncidentFactory(status=S.CLOSED)
    count = items(incident).count()

    services.reopen_incident(incident=incident, actor=agent, reason="Back again")

    assert count > 0
    assert items(incident).count() == count


@pytest.mark.django_db
def test_recurrence_is_for_resolved_incidents_only(agent):
    with pytest.raises(ValidationError) as exc_info:
        services.report_recurrence(
            incident=IncidentFactory(status=S.INVESTIGATING), actor=agent
        )

    assert exc_info.value.code == "not_resolved"


# --- archive ---------------------------------------------------------------


@pytest.mark.django_db
def test_archive_sweep_archives_old_closed_incidents_once(agent, time_machine):
    old = IncidentFactory(status=S.CLOSED, title="Old outage")
    recent_time = old.closed_at + dt.timedelta(days=20)
    time_machine.move_to(recent_time)
    recent = IncidentFactory(status=S.CLOSED, title="Recent outage")
    later = old.closed_at + dt.timedelta(days=30, minutes=1)

    first = services.due_work(later)
    second = services.due_work(later)

    old.refresh_from_db()
    recent.refresh_from_db()
    assert (first["archived"], second["archived"]) == (1, 0)
    assert old.archived_at == later
    assert recent.archived_at is None
    assert old.timeline_events.filter(kind=K.ARCHIVED).count() == 1


@pytest.mark.django_db
def test_archive_delay_is_policy_data(agent, time_machine):
    Policy.objects.filter(name="Carrier playbook").update(archive_after_days=2)
    incident = IncidentFactory(status=S.CLOSED)

    services.due_work(incident.closed_at + dt.timedelta(days=2, minutes=1))

    incident.refresh_from_db()
    assert incident.archived_at is not None


def _archived(title="Archived outage"):
    incident = IncidentFactory(status=S.CLOSED, title=title)
    services.due_work(incident.closed_at + dt.timedelta(days=31))
    incident.refresh_from_db()
    return incident


@pytest.mark.django_db
def test_archived_incidents_leave_the_default_list_and_search(agent_client):
    archived = _archived("Archived outage")
    live = IncidentFactory(title="Live outage")
    url = reverse("incidents:list")

    default = agent_client.get(url)
    searched = agent_client.get(url, {"q": "outage"})
    included = agent_client.get(url, {"q": "outage", "archived": "on"})
    by_number = agent_client.get(url, {"q": archived.reference})

    assert [r[0] for r in default.context["rows"]] == [live]
    assert [r[0] for r in searched.context["rows"]] == [live]
    assert {r[0] for r in included.context["rows"]} == {live, archived}
    assert [r[0] for r in by_number.context["rows"]] == [archived]


@pytest.mark.django_db
def test_archived_incidents_are_read_only(agent):
    archived = _archived()

    with pytest.raises(ValidationError) as edit:
        services.edit_incident_details(
            incident=archived,
            actor=agent,
            expected_version=archived.version,
            changes={"title": "New title"},
        )
    with pytest.raises(ValidationError) as reopen:
        services.reopen_incident(incident=archived, actor=agent, reason="Back")

    assert edit.value.code == reopen.value.code == "archived"
    archived.refresh_from_db()
    assert archived.title == "Archived outage"


@pytest.mark.django_db
def test_list_query_count_stays_flat_with_archived_rows(
    agent_client, django_assert_max_num_queries
):
    IncidentFactory()
    _archived()
    with django_assert_max_num_queries(12) as few:
        agent_client.get(reverse("incidents:list"))
    for _ in range(4):
        IncidentFactory()
        _archived()

    with django_assert_max_num_queries(len(few.captured_queries)):
        agent_client.get(reverse("incidents:list"))


def test_default_list_uses_the_live_rows_index():
    names = {index.name for index in Incident._meta.indexes}

    assert {"incident_live_created_idx", "incident_archive_due_idx"} <= names
    assert selectors.IncidentFilters().include_archived is False


@pytest.mark.django_db
def test_closing_a_resolved_incident_keeps_the_evidence_it_ticked(agent, manager):
    incident = resolve(IncidentFactory(priority="P3", status=S.INVESTIGATING), agent)
    ticked = set(items(incident).filter(state="done").values_list("text", flat=True))
    assert ticked  # the root cause and the tags tick on resolving
    for item in items(incident).filter(state="open"):
        services.mark_checklist_item_not_applicable(
            item=item, actor=manager, reason="Not for this test"
        )

    closed = services.move_incident(
        incident=incident, actor=manager, to_status="closed"
    )

    assert closed.status == S.CLOSED and closed.resolved_at is not None
    assert ticked <= set(
        items(closed).filter(state="done").values_list("text", flat=True)
    )
    assert not items(closed).filter(state="open").exists()
