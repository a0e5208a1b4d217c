"""The automation rules the sweep runs.

From the carrier communication playbook, parts 6 and 7.

Each rule at its boundary (a moment before and at it), each firing once
across sweeps, a reply starting the silence again, and auto-close held by
the closure guard. Sweeps run the whole per-minute job, as the cluster does.
"""

import datetime as dt
import threading

import pytest
from django.db import connection, connections

from comms import services as comms_services
from comms.models import Message
from escalations.models import Escalation, EscalationFiring
from escalations.services import automation
from incidents.models import Incident, Policy, PolicyTarget, Priority, TimelineEvent
from portal.tasks import run_due_work
from tests.factories import (
    CustomerFactory,
    ExternalPartyFactory,
    IncidentFactory,
    notify_party,
    partner_p1_incident,
    send_test_message,
    settle_checklists,
)

pytestmark = pytest.mark.django_db

H = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
SECOND = dt.timedelta(seconds=1)


def sweep(time_machine, at):
    time_machine.move_to(at, tick=False)
    return run_due_work(at)


def events(incident, kind):
    return list(TimelineEvent.objects.filter(incident=incident, kind=kind))


def sent_from(incident, key):
    return Message.objects.filter(
        incident=incident, template_version__template__key=key
    ).order_by("id")


def rule_escalations(incident, reason):
    return Escalation.objects.filter(incident=incident, summary__startswith=reason)


# --- Partner or vendor silent after two follow-ups (carrier playbook) -------


@pytest.mark.parametrize("kind", ["partner", "vendor"])
def test_a_party_silent_after_two_follow_ups_is_escalated_once(
    frozen_now, time_machine, kind
):
    party = ExternalPartyFactory(kind=kind)
    incident = IncidentFactory(
        priority=Priority.P1,
        **{f"is_{kind}_action_needed": True, f"{kind}_action_details": "Check it."},
    )
    notify_party(incident, party)
    sweep(time_machine, frozen_now)
    sweep(time_machine, frozen_now + 2 * H)  # follow-up 1

    sweep(time_machine, frozen_now + 4 * H - SECOND)
    assert events(incident, TimelineEvent.Kind.PARTY_SILENT) == []

    sweep(time_machine, frozen_now + 4 * H)  # follow-up 2: silent now
    sweep(time_machine, frozen_now + 4 * H + 60 * SECOND)

    [silent] = events(incident, TimelineEvent.Kind.PARTY_SILENT)
    assert silent.details["party"] == party.name
    assert silent.details["escalated_to"] == party.escalation_email
    [message] = sent_from(incident, f"{kind}-escalation")
    assert message.recipients == [party.escalation_email]
    assert message.party == party


def test_a_reply_starts_the_party_silence_again(frozen_now, time_machine, agent):
    party = ExternalPartyFactory()
    incident = partner_p1_incident()
    notify_party(incident, party)
    for hours in (0, 2, 4):
        sweep(time_machine, frozen_now + hours * H)
    assert len(events(incident, TimelineEvent.Kind.PARTY_SILENT)) == 1
    time_machine.move_to(frozen_now + 5 * H, tick=False)
    comms_services.log_reply(
        incident=incident,
        actor=agent,
        sender_kind="partner",
        party=party,
        text="We are on it.",
    )

    # The next follow-up leaves at +7 h: silent again 4 h (the P1 delay)
    # after it, whatever number of follow-ups that takes.
    sweep(time_machine, frozen_now + 7 * H)
    sweep(time_machine, frozen_now + 11 * H - SECOND)
    assert len(events(incident, TimelineEvent.Kind.PARTY_SILENT)) == 1
    sweep(time_machine, frozen_now + 11 * H)
    sweep(time_machine, frozen_now + 11 * H + SECOND)
    assert len(events(incident, TimelineEvent.Kind.PARTY_SILENT)) == 2


# --- Deadline at risk and breached (carrier playbook's SLA triggers) --------


def test_a_deadline_at_risk_alerts_and_escalates_one_tier_once(
    frozen_now, time_machine
):
    incident = IncidentFactory(priority=Priority.P2)
    at_risk = incident.resolution_at_risk_at
    assert at_risk < incident.resolution_due_at

    sweep(time_machine, at_risk - SECOND)
    assert events(incident, TimelineEvent.Kind.SLA_AT_RISK_ALERTED) == []

    sweep(time_machine, at_risk)
    sweep(time_machine, at_risk + 60 * SECOND)

    [alert] = events(incident, TimelineEvent.Kind.SLA_AT_RISK_ALERTED)
    [escalation] = rule_escalations(incident, "Resolution deadline at risk")
    assert alert.details["escalation"] == escalation.pk
    # One above L1, where agents work it: the L0 help bot staffs nobody.
    assert escalation.to_tier.key == "l2"
    [posted] = sent_from(incident, "internal-urgent-escalation")
    assert posted.recipients == ["#cs-urgent"]


def test_a_policy_with_its_own_breach_rule_is_alerted_but_not_escalated_twice(
    frozen_now, time_machine
):
    fleet = Policy.objects.get(name="Fleet SaaS")
    incident = IncidentFactory(
        priority=Priority.P2, customer=CustomerFactory(policy=fleet)
    )

    sweep(time_machine, incident.resolution_at_risk_at)
    sweep(time_machine, incident.resolution_at_risk_at + 60 * SECOND)

    assert len(events(incident, TimelineEvent.Kind.SLA_AT_RISK_ALERTED)) == 1
    assert not rule_escalations(incident, "Resolution deadline at risk").exists()
    # The policy's own rule escalated, once, and nothing else did.
    assert (
        EscalationFiring.objects.filter(
            incident=incident, kind="rule", rule__name="SLA breach imminent"
        ).count()
        == 1
    )


def test_a_breach_is_recorded_and_alerted_once(frozen_now, time_machine):
    incident = IncidentFactory(priority=Priority.P2)
    due = incident.resolution_due_at

    sweep(time_machine, due - SECOND)
    assert events(incident, TimelineEvent.Kind.SLA_BREACHED) == []

    sweep(time_machine, due)
    sweep(time_machine, due + 60 * SECOND)

    [breach] = events(incident, TimelineEvent.Kind.SLA_BREACHED)
    assert breach.details["due"] == due.isoformat()
    alerts = sent_from(incident, "internal-urgent-escalation")
    assert [
        m.body.startswith("@channel Resolution deadline breached") for m in alerts
    ] == [
        False,
        True,
    ]


def test_a_resolved_incident_is_not_alerted(frozen_now, time_machine):
    incident = IncidentFactory(priority=Priority.P2, status=Incident.Status.RESOLVED)

    sweep(time_machine, incident.resolution_due_at + H)

    assert events(incident, TimelineEvent.Kind.SLA_AT_RISK_ALERTED) == []
    assert events(incident, TimelineEvent.Kind.SLA_BREACHED) == []


# --- No response past the policy's delay (one per priority, P1 to P4) -------


def counting_customer_silence():
    """The carrier playbook counts only partners' and vendors' silence; these
    tests count the customer's, as another policy may."""
    PolicyTarget.objects.filter(policy__name="Carrier playbook").update(
        no_response_from="anyone"
    )


def test_no_customer_reply_past_the_delay_escalates_once(frozen_now, time_machine):
    counting_customer_silence()
    incident = IncidentFactory(priority=Priority.P3)  # carrier playbook: 72 h
    sweep(time_machine, frozen_now)  # opens the customer loop
    send_test_message(incident, None)  # we wrote at noon

    sweep(time_machine, frozen_now + 72 * H - SECOND)
    assert not rule_escalations(incident, "No reply from the customer").exists()

    sweep(time_machine, frozen_now + 72 * H)
    sweep(time_machine, frozen_now + 73 * H)

    [escalation] = rule_escalations(incident, "No reply from the customer")
    assert escalation.summary == "No reply from the customer for 72 h"
    assert EscalationFiring.objects.filter(kind="no_response").count() == 1


def test_a_customer_reply_starts_the_no_response_clock_again(
    frozen_now, time_machine, agent
):
    counting_customer_silence()
    incident = IncidentFactory(priority=Priority.P3)
    sweep(time_machine, frozen_now)
    send_test_message(incident, None)
    time_machine.move_to(frozen_now + 24 * H, tick=False)
    comms_services.log_reply(
        incident=incident, actor=agent, sender_kind="customer", text="Still broken."
    )

    # Nothing written to them since their reply: nothing to be silent about
    # until the next follow-up (+24 h + 48 h cadence), then 72 h more.
    sweep(time_machine, frozen_now + 72 * H)
    assert not rule_escalations(incident, "No reply from the customer").exists()
    sweep(time_machine, frozen_now + 72 * H + 72 * H - SECOND)
    assert not rule_escalations(incident, "No reply from the customer").exists()
    sweep(time_machine, frozen_now + 144 * H)
    assert rule_escalations(incident, "No reply from the customer").count() == 1


def test_the_carrier_playbook_escalates_a_silent_partner_not_a_silent_customer(
    frozen_now, time_machine
):
    # Carrier communication playbook, part 7: no response in 4 h (P1) from a
    # partner escalates to their management; a silent customer's case is
    # closed by the auto-close rules, never escalated.
    party = ExternalPartyFactory()
    incident = partner_p1_incident()
    sweep(time_machine, frozen_now)
    send_test_message(incident, None)  # to the customer, at noon
    notify_party(incident, party)  # and to the partner
    sweep(time_machine, frozen_now + SECOND)

    sweep(time_machine, frozen_now + 4 * H - SECOND)
    assert events(incident, TimelineEvent.Kind.PARTY_SILENT) == []
    sweep(time_machine, frozen_now + 4 * H + SECOND)

    assert len(events(incident, TimelineEvent.Kind.PARTY_SILENT)) == 1
    sweep(time_machine, frozen_now + 30 * H)
    assert not rule_escalations(incident, "No reply from the customer").exists()


# --- Auto-close (the carrier playbook's closing rules) ----------------------


def resolved(frozen_now, **kwargs):
    incident = IncidentFactory(status=Incident.Status.RESOLVED, **kwargs)
    settle_checklists(incident)
    incident.refresh_from_db()
    return incident


def test_a_confirmed_fix_closes_after_monitoring_with_a_thank_you(
    frozen_now, time_machine, agent
):
    incident = resolved(frozen_now)
    comms_services.log_reply(
        incident=incident,
        actor=agent,
        sender_kind="customer",
        kind="confirmed",
        text="All good now, thanks!",
    )
    ends = incident.monitoring_ends_at

    sweep(time_machine, ends - SECOND)
    incident.refresh_from_db()
    assert incident.status == Incident.Status.RESOLVED

    sweep(time_machine, ends)
    sweep(time_machine, ends + 60 * SECOND)

    incident.refresh_from_db()
    assert incident.status == Incident.Status.CLOSED
    assert len(events(incident, TimelineEvent.Kind.AUTO_CLOSED)) == 1
    assert sent_from(incident, "customer-thank-you").count() == 1


def test_a_silent_resolution_gets_the_check_in_then_closes_at_72_hours(
    frozen_now, time_machine
):
    # The carrier playbook: resolved and no response in 72 h, close; the
    # check-in comes a day before.
    incident = resolved(frozen_now)

    sweep(time_machine, frozen_now + 48 * H - SECOND)
    assert not sent_from(incident, "customer-checking-in").exists()
    sweep(time_machine, frozen_now + 48 * H)
    sweep(time_machine, frozen_now + 48 * H + 60 * SECOND)
    assert sent_from(incident, "customer-checking-in").count() == 1

    sweep(time_machine, frozen_now + 72 * H - SECOND)
    incident.refresh_from_db()
    assert incident.status == Incident.Status.RESOLVED

    sweep(time_machine, frozen_now + 72 * H)
    sweep(time_machine, frozen_now + 72 * H + 60 * SECOND)
    incident.refresh_from_db()
    assert incident.status == Incident.Status.CLOSED
    assert len(events(incident, TimelineEvent.Kind.AUTO_CLOSED)) == 1
    assert sent_from(incident, "customer-auto-close-resolved").count() == 1


def test_durations_are_the_policys(frozen_now, time_machine):
    Policy.objects.filter(is_default=True).update(
        check_in_after_resolved_minutes=60, close_after_check_in_minutes=30
    )
    incident = resolved(frozen_now, priority=Priority.P3)
    incident.refresh_from_db()
    end = max(incident.monitoring_ends_at, frozen_now + 90 * 60 * SECOND)

    sweep(time_machine, frozen_now + H)
    assert sent_from(incident, "customer-checking-in").count() == 1
    sweep(time_machine, end)
    incident.refresh_from_db()
    assert incident.status == Incident.Status.CLOSED


def test_auto_close_refused_by_the_guard_does_nothing(frozen_now, time_machine, agent):
    incident = IncidentFactory(status=Incident.Status.RESOLVED)  # checklist open
    comms_services.log_reply(
        incident=incident,
        actor=agent,
        sender_kind="customer",
        kind="confirmed",
        text="Works now.",
    )
    ends = incident.monitoring_ends_at

    sweep(time_machine, ends)
    sweep(time_machine, ends + 60 * SECOND)
    sweep(time_machine, ends + 120 * SECOND)

    incident.refresh_from_db()
    assert incident.status == Incident.Status.RESOLVED
    assert events(incident, TimelineEvent.Kind.AUTO_CLOSED) == []
    assert not sent_from(incident, "customer-thank-you").exists()
    assert len(events(incident, TimelineEvent.Kind.CLOSE_REFUSED)) == 1
    assert not EscalationFiring.objects.filter(kind="auto_close").exists()


def test_a_refused_auto_close_waits_half_an_hour_before_the_next_try(
    frozen_now, time_machine, agent
):
    incident = IncidentFactory(status=Incident.Status.RESOLVED)  # checklist open
    comms_services.log_reply(
        incident=incident,
        actor=agent,
        sender_kind="customer",
        kind="confirmed",
        text="Works now.",
    )
    ends = incident.monitoring_ends_at
    sweep(time_machine, ends)
    [blocked] = EscalationFiring.objects.filter(kind="auto_close_blocked")
    assert blocked.incident == incident
    assert blocked.fired_at == ends

    settle_checklists(incident)  # the blockers are cleared...
    sweep(time_machine, ends + 30 * 60 * SECOND - SECOND)
    incident.refresh_from_db()
    assert incident.status == Incident.Status.RESOLVED  # ...but not retried yet

    sweep(time_machine, ends + 30 * 60 * SECOND)
    incident.refresh_from_db()
    assert incident.status == Incident.Status.CLOSED
    assert sent_from(incident, "customer-thank-you").count() == 1


def test_waiting_on_the_customer_seven_days_closes_as_pending(frozen_now, time_machine):
    incident = IncidentFactory(status=Incident.Status.WAITING_CUSTOMER)
    settle_checklists(incident)

    sweep(time_machine, frozen_now + 7 * DAY - SECOND)
    incident.refresh_from_db()
    assert incident.status == Incident.Status.WAITING_CUSTOMER

    sweep(time_machine, frozen_now + 7 * DAY)
    sweep(time_machine, frozen_now + 7 * DAY + 60 * SECOND)

    incident.refresh_from_db()
    assert incident.status == Incident.Status.CLOSED_PENDING
    [closed] = events(incident, TimelineEvent.Kind.AUTO_CLOSED)
    assert closed.details["changes"]["status"] == ["waiting_customer", "closed_pending"]
    assert sent_from(incident, "customer-auto-close-waiting").count() == 1


def test_a_customer_reply_pushes_the_pending_close_back(
    frozen_now, time_machine, agent
):
    incident = IncidentFactory(status=Incident.Status.WAITING_CUSTOMER)
    settle_checklists(incident)
    time_machine.move_to(frozen_now + 3 * DAY, tick=False)
    comms_services.log_reply(
        incident=incident, actor=agent, sender_kind="customer", text="Looking."
    )

    sweep(time_machine, frozen_now + 10 * DAY - SECOND)
    incident.refresh_from_db()
    assert incident.status == Incident.Status.WAITING_CUSTOMER
    sweep(time_machine, frozen_now + 10 * DAY)
    incident.refresh_from_db()
    assert incident.status == Incident.Status.CLOSED_PENDING


# --- Two sweeps at once (PostgreSQL) ----------------------------------------


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SKIP LOCKED and concurrent sweeps need PostgreSQL",
)
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_sweeps_at_once_fire_each_rule_once(frozen_now, time_machine):
    incidents = [IncidentFactory(priority=Priority.P2) for _ in range(4)]
    at = max(i.resolution_due_at for i in incidents)
    time_machine.move_to(at, tick=False)
    barrier = threading.Barrier(2)

    def run():
        try:
            barrier.wait()
            automation.due_work(at)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    for incident in incidents:
        assert len(events(incident, TimelineEvent.Kind.SLA_BREACHED)) == 1
