"""The shipped templates, rendered as their readers get them."""

import datetime as dt
import re

import pytest
from django.core.exceptions import ValidationError

from comms import selectors, services
from comms.catalogue import every, incident_context
from comms.models import MessageTemplate, Reply
from incidents import services as incident_services
from incidents.models import Incident, Policy, Priority, Signal
from tests.factories import CustomerFactory, IncidentFactory, send_test_message

INTERNAL_MARKERS = {
    "what_happened": "INTERNAL-NARRATIVE-7731 the ops db fell over",
    "root_cause": "INTERNAL-CAUSE-5512 bad deploy by team blue",
    "partner_action_details": "INTERNAL-PARTNER-ASK-9910",
}


def _render(key, incident, **kwargs):
    template = MessageTemplate.objects.select_related("current_version").get(key=key)
    context = incident_context(incident, audience=template.audience, **kwargs)
    version = template.current_version
    return services.preview_template(version=version, context=context)


def _policy_customer(name, **fields):
    return CustomerFactory(policy=Policy.objects.get(name=name), **fields)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("policy", "promise"),
    [
        ("Carrier playbook", "every 4 hours"),
        ("Fleet SaaS", "every hour"),
        ("Automation agency", "every 30 minutes"),
    ],
)
def test_a_critical_notice_promises_the_policys_own_cadence(policy, promise):
    incident = IncidentFactory(priority=Priority.P1, customer=_policy_customer(policy))

    body = _render("customer-initial-critical", incident).body

    assert f"update {promise} until" in body.replace("\n", " ")
    assert "half hour" not in body or promise == "every 30 minutes"


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["internal-follow-up-note", "internal-escalation-chat"])
def test_internal_messages_give_the_customers_next_update(key, frozen_now):
    incident = IncidentFactory(priority=Priority.P2)

    body = _render(key, incident, reader_zone="UTC").body

    # Carrier playbook: P2 customers hear every 12 hours; the team every 8.
    assert "Wed 18 Nov 2026, 24:00" not in body
    assert "Thu 19 Nov 2026, 00:00 UTC" in body
    assert "Wed 18 Nov 2026, 20:00 UTC" not in body


@pytest.mark.django_db
def test_internal_times_read_in_the_policys_zone_whoever_writes(frozen_now):
    incident = IncidentFactory(priority=Priority.P2)
    policy_zone = incident.policy.calendar.time_zone

    from_berlin = _render(
        "internal-follow-up-note", incident, reader_zone="Europe/Berlin"
    ).body
    by_the_portal = _render("internal-follow-up-note", incident).body

    assert from_berlin == by_the_portal
    assert policy_zone != "Europe/Berlin"
    assert "CET" not in from_berlin


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["customer-initial-critical", "customer-follow-up-4"])
def test_customer_text_names_the_team_until_someone_owns_the_incident(key, settings):
    settings.SUPPORT_TEAM_NAME = "Meow Support"
    incident = IncidentFactory(priority=Priority.P1, owner=None)

    body = _render(key, incident).body

    assert "Unassigned" not in body
    assert "the Meow Support team owns" in body


@pytest.mark.django_db
def test_a_customer_is_greeted_by_its_contact_person():
    customer = CustomerFactory(name="Acme Logistics", contact_name="Dana Ortiz")
    incident = IncidentFactory(customer=customer)

    body = _render("customer-initial", incident).body

    assert body.startswith("Hello Dana,")
    assert "Hello Acme" not in body


@pytest.mark.django_db
@pytest.mark.parametrize("systemic", [False, True])
def test_no_customer_template_carries_internal_notes(agent, systemic):
    incident = IncidentFactory(
        customer=None if systemic else CustomerFactory(),
        is_systemic=systemic,
        signal=Signal.objects.first(),
        customer_summary="Your eSIM has not finished setting up.",
        fix_summary="We issued a fresh eSIM profile.",
        is_partner_action_needed=True,
        **INTERNAL_MARKERS,
    )

    for template in MessageTemplate.objects.filter(audience="customer"):
        rendered = _render(template.key, incident)
        text = rendered.subject + rendered.body
        for marker in INTERNAL_MARKERS.values():
            assert marker not in text, template.key
        assert "SIG-0" not in text, template.key
        assert "/incidents/" not in text, template.key


@pytest.mark.django_db
def test_a_customer_template_that_uses_internal_notes_is_refused_at_save():
    with pytest.raises(ValidationError) as exc_info:
        services.check_template_source(
            subject="Update",
            body="Hello {{ customer.first_name }}, cause: {{ incident.root_cause }}",
            audience="customer",
        )

    assert "incident.root_cause" in str(exc_info.value)
    assert "internal" in str(exc_info.value)


@pytest.mark.django_db
def test_fixed_messages_say_what_was_wrong_and_what_was_done():
    incident = IncidentFactory(
        status=Incident.Status.RESOLVED,
        customer_summary="Your eSIM did not activate.",
        fix_summary="We issued a new eSIM profile.",
    )

    for key in (
        "customer-resolution",
        "customer-resolution-proactive",
        "customer-resolution-multiple-contacts",
        "customer-resolution-outage-restored",
    ):
        body = _render(key, incident).body
        assert "Your eSIM did not activate." in body, key
        assert "We issued a new eSIM profile." in body, key
        assert "Under investigation" not in body, key


def _resolution_template(incident):
    suggestion = next(
        s for s in selectors.suggested_messages(incident) if s["audience"] == "customer"
    )
    return suggestion["template"].key


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("signal", "contacts", "systemic", "expected"),
    [
        (True, 0, False, "customer-resolution-proactive"),
        (True, 1, False, "customer-resolution"),
        (True, 2, False, "customer-resolution-multiple-contacts"),
        (False, 3, False, "customer-resolution-multiple-contacts"),
        (False, 0, False, "customer-resolution"),
        (True, 0, True, "customer-resolution-outage-restored"),
        (False, 4, True, "customer-resolution-outage-restored"),
    ],
)
def test_the_resolution_message_fits_how_the_incident_came_about(
    signal, contacts, systemic, expected
):
    incident = IncidentFactory(
        status=Incident.Status.RESOLVED,
        signal=Signal.objects.first() if signal else None,
        customer_contact_count=contacts,
        customer=None if systemic else CustomerFactory(),
        is_systemic=systemic,
    )

    assert _resolution_template(incident) == expected


@pytest.mark.django_db
def test_the_resolution_is_not_suggested_again_once_told_until_it_reopens(agent):
    incident = IncidentFactory(
        status=Incident.Status.RESOLVED,
        customer_summary="Your eSIM works again.",
        fix_summary="Re-provisioned the profile.",
    )
    send_test_message(incident, agent, stage="resolution", follow_up_number=None)

    audiences = {s["audience"] for s in selectors.suggested_messages(incident)}
    assert "customer" not in audiences

    for step in ("investigating", "resolved"):
        incident = incident_services.move_incident(
            incident=incident, actor=agent, to_status=step
        )

    assert _resolution_template(incident) == "customer-resolution"


@pytest.mark.django_db
def test_a_customer_who_wrote_in_is_not_told_we_spotted_it_first():
    incident = IncidentFactory(signal=Signal.objects.first(), customer_contact_count=2)

    assert _resolution_template(incident) == "customer-initial"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "confirmed", "expected"),
    [
        (Incident.Status.CLOSED, True, "customer-thank-you"),
        (Incident.Status.CLOSED, False, "customer-auto-close-resolved"),
        (Incident.Status.CLOSED_PENDING, False, "customer-auto-close-waiting"),
    ],
)
def test_the_closing_message_fits_how_the_incident_ended(
    agent, status, confirmed, expected
):
    incident = IncidentFactory(status=status)
    if confirmed:
        services.log_reply(
            incident=incident,
            actor=agent,
            sender_kind="customer",
            text="All good now.",
            kind=Reply.Kind.CONFIRMED,
        )

    assert _resolution_template(incident) == expected


@pytest.mark.django_db
def test_customer_times_are_in_the_customers_zone(frozen_now):
    customer = CustomerFactory(time_zone="America/Los_Angeles")
    incident = IncidentFactory(priority=Priority.P3, customer=customer)

    body = _render("customer-follow-up-1", incident, reader_zone="Europe/Berlin").body

    # P3 customers hear every 48 hours: Friday noon UTC is 04:00 in LA.
    assert "Fri 20 Nov 2026, 04:00 PST" in body
    assert "CET" not in body


@pytest.mark.django_db
def test_customer_times_default_to_the_policys_zone(frozen_now):
    calendar = Policy.objects.get(is_default=True).calendar
    calendar.time_zone = "Asia/Kolkata"
    calendar.save()
    incident = IncidentFactory(priority=Priority.P3)

    body = _render("customer-follow-up-1", incident, reader_zone="Europe/Berlin").body

    assert "Fri 20 Nov 2026, 17:30 IST" in body


@pytest.mark.django_db
def test_a_systemic_message_greets_everyone_in_the_policys_zone(agent, frozen_now):
    incident = IncidentFactory(customer=None, is_systemic=True, priority=Priority.P3)
    incident_services.add_affected_customer(
        incident=incident,
        actor=agent,
        customer=CustomerFactory(time_zone="America/Los_Angeles"),
    )

    body = _render("customer-follow-up-1", incident, reader_zone="Europe/Berlin").body

    assert body.startswith("Hello there,")
    assert "Fri 20 Nov 2026, 12:00 UTC" in body


@pytest.mark.parametrize(
    ("minutes", "words"),
    [
        (30, "every 30 minutes"),
        (60, "every hour"),
        (240, "every 4 hours"),
        (1440, "every day"),
        (4320, "every 3 days"),
        (90, "every 90 minutes"),
    ],
)
def test_cadences_read_as_words(minutes, words):
    assert every(dt.timedelta(minutes=minutes)) == words


@pytest.mark.django_db
@pytest.mark.parametrize(
    "key",
    [
        "internal-ticket-note",
        "internal-manager-escalation",
        "internal-executive-escalation",
    ],
)
def test_internal_emails_use_the_incident_subject_pattern(key):
    customer = CustomerFactory(name="Dana Ortiz", email="dana@example.com")
    incident = IncidentFactory(
        priority=Priority.P1,
        customer=customer,
        signal=Signal.objects.get(code="SIG-002"),
    )

    subject = _render(key, incident).subject

    if key == "internal-executive-escalation":
        # It leads with its own tag (automation agency playbook).
        assert subject.startswith("[EXECUTIVE ESCALATION] ")
        subject = subject.removeprefix("[EXECUTIVE ESCALATION] ")
    assert subject.startswith(
        "[INCIDENT] [P1] [SIG-002] — Dana Ortiz (dana@example.com)"
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "key", ["internal-resolution-chat", "internal-resolution-note"]
)
def test_the_resolution_chat_and_note_report_000s_key_metrics(
    agent, time_machine, frozen_now, key
):
    incident = IncidentFactory(
        priority="P2",
        impact_started_at=frozen_now - dt.timedelta(minutes=25),
        customer_contact_count=2,
    )
    time_machine.move_to(frozen_now + dt.timedelta(minutes=18), tick=False)
    incident = incident_services.record_first_response(incident=incident, actor=agent)
    time_machine.move_to(frozen_now + dt.timedelta(hours=3, minutes=40), tick=False)
    for step in ("investigating", "resolved"):
        incident = incident_services.move_incident(
            incident=incident, actor=agent, to_status=step
        )

    body = _render(key, incident).body

    assert (
        "Time to detect: 25 min · to first reply: 18 min · to resolve: 3 h 40 min"
        in body
    )
    assert "SLA met: Yes\n" in body
    assert re.search(r"Customer contacts[a-z ]*: 2\b", body)


@pytest.mark.django_db
def test_key_metrics_stay_out_of_customer_messages(frozen_now):
    context = incident_context(IncidentFactory(), audience="customer")
    assert context["metrics"] == {}


# --- Read as the recipient reads them (auto-close, escalations, alerts) ---


@pytest.mark.django_db
def test_the_check_in_and_pending_close_name_the_policys_own_waits():
    policy = Policy.objects.get(name="Fleet SaaS")
    policy.close_after_check_in_minutes = 2 * 24 * 60
    policy.close_pending_after_minutes = 36 * 60
    policy.save()
    incident = IncidentFactory(customer=_policy_customer("Fleet SaaS"))

    check_in = _render("customer-checking-in", incident).body
    pending = _render("customer-auto-close-waiting", incident).body

    assert f"close {incident.reference} in 2 days." in check_in
    assert "3 days" not in check_in
    assert "haven't heard back in 36 hours," in pending
    assert "7 days" not in pending


@pytest.mark.django_db
def test_a_systemic_customer_message_names_no_single_customer():
    reporter = CustomerFactory(name="Reporting Co", contact_name="Rita Reporter")
    incident = IncidentFactory(
        customer=reporter,
        is_systemic=True,
        customer_summary="Texts were delayed.",
        fix_summary="We fixed the route.",
    )

    for key in ("customer-resolution", "customer-thank-you", "customer-escalation"):
        body = _render(key, incident).body
        assert body.startswith("Hello there,"), key
        assert "Rita" not in body and "Reporting Co" not in body, key
        # One link for everyone could be answered once for all of them.
        assert "/survey/" not in body, key


@pytest.mark.django_db
@pytest.mark.parametrize(
    "key",
    [
        "customer-escalation",
        "customer-escalation-l2",
        "customer-escalation-engineering",
        "customer-escalation-urgent",
        "customer-escalation-no-answer",
    ],
)
def test_an_escalation_notice_under_an_as_needed_cadence_promises_no_empty_time(
    key,
):
    # The automation agency's P4 updates the customer as needed.
    incident = IncidentFactory(
        priority=Priority.P4, customer=_policy_customer("Automation agency")
    )

    body = _render(key, incident).body

    assert " by ." not in body.replace("\n", " ")
    assert " by \n" not in body and "by  " not in body
    assert "as soon as" in body
    # Tier response times differ by policy: none is quoted as a fact.
    assert "24 hours" not in body and "48 hours" not in body


@pytest.mark.django_db
def test_the_carrier_notice_promises_the_policys_cadence_without_a_tier_promise():
    incident = IncidentFactory(
        priority=Priority.P1, customer=_policy_customer("Carrier playbook")
    )

    body = _render("customer-escalation-carrier", incident).body

    assert "daily" not in body
    assert "check in with you every 4 hours until it is done." in body


@pytest.mark.django_db
def test_an_urgent_notice_to_one_customer_does_not_speak_of_many():
    incident = IncidentFactory(priority=Priority.P1)

    body = _render("customer-escalation-urgent", incident).body

    assert "several customers" not in body
    assert "Your case now has our urgent response" in body


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["partner", "vendor"])
def test_a_silent_partys_management_reads_no_internal_narrative(kind):
    from tests.factories import ExternalPartyFactory

    party = ExternalPartyFactory(kind=kind, account_ref="ACC-77")
    incident = IncidentFactory(
        what_happened=INTERNAL_MARKERS["what_happened"],
        **{f"is_{kind}_action_needed": True, f"{kind}_action_details": "Re-push it."},
    )

    body = _render(f"{kind}-escalation", incident, party=party).body

    assert "INTERNAL-NARRATIVE" not in body
    assert "Re-push it." in body
    assert "committed response time has passed" not in body


@pytest.mark.django_db
def test_the_urgent_alert_for_one_customer_names_them_and_the_deadline(frozen_now):
    customer = CustomerFactory(name="Acme Depot")
    incident = IncidentFactory(priority=Priority.P1, customer=customer)

    body = _render("internal-urgent-escalation", incident).body

    assert "1 customers" not in body
    assert "Customer: Acme Depot" in body
    assert "resolve by " in body and incident.reference in body


@pytest.mark.django_db
def test_the_affected_count_counts_the_reporter_and_each_other_customer_once():
    from incidents.models import AffectedCustomer

    reporter, other = CustomerFactory(), CustomerFactory()
    incident = IncidentFactory(customer=reporter, is_systemic=True)
    for customer in (reporter, other):  # the reporter may be listed too
        AffectedCustomer.objects.create(incident=incident, customer=customer)

    context = incident_context(incident, audience="internal")

    assert context["incident"]["affected_count"] == 2
    AffectedCustomer.objects.filter(customer=reporter).delete()
    assert (
        incident_context(incident, audience="internal")["incident"]["affected_count"]
        == 2
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("sender_name", "signature"),
    [
        ("", ["The Customer Support team"]),
        ("Ana Ortiz", ["Ana Ortiz", "Customer Support"]),
    ],
)
def test_a_message_is_signed_once_by_whoever_sends_it(sender_name, signature, settings):
    settings.SUPPORT_TEAM_NAME = "Customer Support"
    incident = IncidentFactory()

    rendered = _render("customer-thank-you", incident, sender_name=sender_name)

    assert rendered.body.rstrip().splitlines()[-len(signature) :] == signature
    assert "The Customer Support team\nCustomer Support" not in rendered.body


@pytest.mark.django_db
def test_links_in_messages_without_a_request_use_the_portals_address(settings):
    settings.PORTAL_BASE_URL = "https://switchboard.example.com/"
    incident = IncidentFactory()

    context = incident_context(incident, audience="internal")

    assert context["incident"]["url"] == (
        f"https://switchboard.example.com{incident.get_absolute_url()}"
    )


@pytest.mark.django_db
def test_nothing_the_portal_signs_as_the_team_speaks_as_one_person():
    """A message the portal sends on its own is signed by the team, so it
    never says "I" (every customer and partner template, follow-ups and
    escalation notices included)."""
    incident = IncidentFactory(
        customer_summary="Your eSIM could not activate.",
        fix_summary="We re-sent your profile.",
    )
    first_person = re.compile(r"\b(I|I'm|I'll|I've|me|my)\b")
    speaking = []
    for template in MessageTemplate.objects.exclude(audience="internal"):
        rendered = _render(template.key, incident, follow_up_number=3)
        body = "\n".join(rendered.body.splitlines()[1:])  # past "Hello …,"
        if first_person.search(body):
            speaking.append(template.key)

    assert speaking == []


@pytest.mark.django_db
def test_a_person_sending_follow_up_three_still_takes_ownership():
    incident = IncidentFactory()

    rendered = _render("customer-follow-up-3", incident, sender_name="Ana Ortiz")

    assert "I'm taking personal ownership" in rendered.body
    assert "You will hear from me by" in rendered.body


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("minutes", "words"),
    [(0, "1 minute"), (20, "20 minutes"), (59, "59 minutes"), (60, "1 hour")],
)
def test_a_short_impact_reads_in_minutes_not_zero_hours(frozen_now, minutes, words):
    incident = IncidentFactory(
        impact_started_at=frozen_now - dt.timedelta(minutes=minutes)
    )

    context = incident_context(incident, audience="customer")

    assert context["incident"]["impact_duration"] == words


@pytest.mark.django_db
def test_internal_updates_name_a_sev_1s_commander_and_war_room(other_agent):
    from incidents import services as incident_services

    incident = IncidentFactory(
        priority=Priority.P1, customer=_policy_customer("Fleet SaaS")
    )
    incident = incident_services.run_war_room(
        incident=incident,
        actor=other_agent,
        call_url="https://meet.example.com/sev1",
        commander=other_agent,
    )

    body = _render("internal-update-1", incident).body

    name = other_agent.get_full_name() or other_agent.get_username()
    assert f" · commander {name} · war room https://meet.example.com/sev1" in body
    customer_body = _render("customer-follow-up-1", incident).body
    assert "meet.example.com" not in customer_body and name not in customer_body
