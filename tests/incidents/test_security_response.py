"""Security incident response (fleet escalation playbook).

Phases, clocks from detection, Legal.
"""

import datetime as dt
import re

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from comms import services as comms_services
from comms.models import Message, MessageTemplate
from incidents import selectors, services
from incidents.models import (
    PostMortem,
    Priority,
    RegulatoryRegime,
    SecurityPhaseKind,
    TimelineEvent,
)
from incidents.sla import ClockState
from tests.factories import IncidentFactory, message_fields, send_test_message

DETECTED = dt.datetime(2026, 11, 18, 11, 0, tzinfo=dt.UTC)
FLAGGED = DETECTED + dt.timedelta(minutes=5)


@pytest.fixture
def response(time_machine, agent):
    time_machine.move_to(FLAGGED, tick=False)
    incident = IncidentFactory(priority=Priority.P1, detected_at=DETECTED, owner=agent)
    return services.flag_security_incident(
        incident=incident, actor=agent, incident_type="data_breach"
    )


def _phase(response, kind):
    return response.phases.get(kind=kind)


def _state(phase, now):
    return selectors.security_clock_state(
        starts_at=phase.response.detected_at,
        due_at=phase.due_at,
        done_at=phase.done_at,
        now=now,
    )


@pytest.mark.django_db
def test_flagging_gives_seven_phases_due_from_detection(response):
    due = {p.kind: p.due_at for p in response.phases.all()}

    hours = dt.timedelta(hours=1)
    assert due == {
        "identify": DETECTED + 15 * dt.timedelta(minutes=1),
        "contain": DETECTED + hours,
        "investigate": DETECTED + 24 * hours,
        "eradicate": DETECTED + 48 * hours,
        "recover": DETECTED + 7 * 24 * hours,
        "notify": None,
        "lessons": DETECTED + 7 * 24 * hours,
    }
    assert list(response.phases.values_list("kind", flat=True)) == list(
        SecurityPhaseKind.values
    )
    assert _phase(response, "identify").items.count() == 12
    assert response.notifications.count() == 3
    assert TimelineEvent.objects.filter(
        incident=response.incident, kind=TimelineEvent.Kind.SECURITY_FLAGGED
    ).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("after_detection", "state"),
    [
        (dt.timedelta(minutes=11, seconds=14), ClockState.RUNNING),
        (dt.timedelta(minutes=11, seconds=15), ClockState.AT_RISK),
        (dt.timedelta(minutes=15), ClockState.AT_RISK),
        (dt.timedelta(minutes=15, seconds=1), ClockState.BREACHED),
    ],
)
def test_identify_clock_at_its_boundaries(response, after_detection, state):
    phase = _phase(response, "identify")

    assert _state(phase, DETECTED + after_detection) == state


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("after_detection", "state"),
    [
        (dt.timedelta(hours=1), ClockState.MET),
        (dt.timedelta(hours=1, seconds=1), ClockState.BREACHED),
    ],
)
def test_contain_phase_done_on_or_after_its_deadline(
    response, agent, time_machine, after_detection, state
):
    phase = _phase(response, "contain")
    for item in phase.items.all():
        services.tick_security_item(item=item, actor=agent)
    time_machine.move_to(DETECTED + after_detection, tick=False)

    services.complete_security_phase(phase=phase, actor=agent)

    phase.refresh_from_db()
    assert _state(phase, DETECTED + dt.timedelta(days=30)) == state


@pytest.mark.django_db
def test_a_phase_with_open_lines_cannot_be_done(response, agent):
    phase = _phase(response, "identify")

    with pytest.raises(ValidationError) as exc_info:
        services.complete_security_phase(phase=phase, actor=agent)

    assert exc_info.value.code == "open_items"
    phase.refresh_from_db()
    assert phase.done_at is None


@pytest.mark.django_db
def test_ticking_a_line_twice_is_refused(response, agent, other_agent):
    item = _phase(response, "identify").items.first()
    services.tick_security_item(item=item, actor=agent)

    with pytest.raises(ValidationError) as exc_info:
        services.tick_security_item(item=item, actor=other_agent)

    assert exc_info.value.code == "unchanged"
    item.refresh_from_db()
    assert item.done_by == agent


@pytest.mark.django_db
def test_gdpr_clock_runs_72_hours_from_detection_and_sets_the_notify_deadline(
    response, agent
):
    gdpr = RegulatoryRegime.objects.get(key="gdpr")
    ccpa = RegulatoryRegime.objects.get(key="ccpa")

    clocks = services.choose_regulatory_clocks(
        response=response, actor=agent, regimes=[gdpr, ccpa]
    )

    due = {c.regime.key: c.due_at for c in clocks}
    assert due == {"gdpr": DETECTED + dt.timedelta(hours=72), "ccpa": None}
    assert _phase(response, "notify").due_at == DETECTED + dt.timedelta(hours=72)
    assert (
        TimelineEvent.objects.filter(
            kind=TimelineEvent.Kind.REGULATORY_CLOCK_STARTED
        ).count()
        == 2
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("after_detection", "state"),
    [
        (dt.timedelta(hours=53, minutes=59), ClockState.RUNNING),
        (dt.timedelta(hours=54), ClockState.AT_RISK),
        (dt.timedelta(hours=72), ClockState.AT_RISK),
        (dt.timedelta(hours=72, seconds=1), ClockState.BREACHED),
    ],
)
def test_gdpr_clock_at_its_boundaries(response, agent, after_detection, state):
    clock = services.choose_regulatory_clocks(
        response=response,
        actor=agent,
        regimes=[RegulatoryRegime.objects.get(key="gdpr")],
    )[0]

    assert (
        selectors.security_clock_state(
            starts_at=clock.started_at,
            due_at=clock.due_at,
            done_at=None,
            now=DETECTED + after_detection,
        )
        == state
    )


@pytest.mark.django_db
def test_hipaa_allows_sixty_days(response, agent):
    clock = services.choose_regulatory_clocks(
        response=response,
        actor=agent,
        regimes=[RegulatoryRegime.objects.get(key="hipaa")],
    )[0]

    assert clock.due_at == DETECTED + dt.timedelta(days=60)


@pytest.mark.django_db
def test_choosing_a_running_clock_again_is_refused(response, agent):
    gdpr = RegulatoryRegime.objects.get(key="gdpr")
    services.choose_regulatory_clocks(response=response, actor=agent, regimes=[gdpr])

    with pytest.raises(ValidationError) as exc_info:
        services.choose_regulatory_clocks(
            response=response, actor=agent, regimes=[gdpr]
        )

    assert exc_info.value.code == "already_running"


@pytest.mark.django_db
def test_immediate_notifications_are_recorded_once(response, agent):
    cto = response.notifications.get(recipient="cto")

    services.record_security_notification(notification=cto, actor=agent, how="Phone")

    cto.refresh_from_db()
    assert cto.notified_by == agent and cto.how == "Phone"
    assert TimelineEvent.objects.filter(
        kind=TimelineEvent.Kind.MANAGEMENT_NOTIFIED, details__recipient="cto"
    ).exists()
    with pytest.raises(ValidationError):
        services.record_security_notification(notification=cto, actor=agent)


@pytest.mark.django_db
def test_a_second_flag_is_refused(response, agent):
    with pytest.raises(ValidationError) as exc_info:
        services.flag_security_incident(
            incident=response.incident, actor=agent, incident_type="malware"
        )

    assert exc_info.value.code == "already_flagged"


@pytest.mark.django_db
def test_agents_cannot_record_legal_approval(response, agent):
    with pytest.raises(ValidationError) as exc_info:
        services.record_legal_approval(response=response, actor=agent, approver="Li")

    assert exc_info.value.code == "not_allowed"


def _security_notice(incident, agent, *, send=True, **overrides):
    from comms import services as comms_services

    template = MessageTemplate.objects.get(key="customer-security-notice")
    act = comms_services.send_message if send else comms_services.save_draft
    return act(
        incident=incident,
        actor=agent,
        **message_fields(
            incident,
            situation="security_notice",
            template_version=template.current_version,
            **overrides,
        ),
    )


@pytest.mark.django_db
def test_security_notice_is_refused_until_legal_approves(response, agent, manager):
    with pytest.raises(ValidationError) as exc_info:
        _security_notice(response.incident, agent)
    assert exc_info.value.code == "legal_approval_required"
    assert not Message.objects.exists()
    draft = _security_notice(response.incident, agent, send=False)

    services.record_legal_approval(
        response=response, actor=manager, approver="Dana Legal", note="All EU users"
    )
    message = comms_services.send_draft(message=draft, actor=agent)

    # A Sev 1 customer message still waits for a manager, as any would.
    assert message.status == Message.Status.AWAITING_APPROVAL


@pytest.mark.django_db
def test_no_customer_message_of_any_kind_leaves_while_legal_decides(response, agent):
    # Whatever the form says the message is (here: nothing at all).
    with pytest.raises(ValidationError) as exc_info:
        send_test_message(response.incident, agent, situation="", stage="follow_up")

    assert exc_info.value.code == "legal_approval_required"
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_a_manager_may_override_the_hold_with_a_reason_which_is_recorded(
    response, manager
):
    message = comms_services.send_message(
        incident=response.incident,
        actor=manager,
        override_reason="Regulator asked us to warn them today.",
        **message_fields(response.incident),
    )

    assert message.status == Message.Status.AWAITING_APPROVAL
    assert message.override_reason == "Regulator asked us to warn them today."


@pytest.mark.django_db
def test_an_agent_cannot_override_the_hold(response, agent):
    with pytest.raises(ValidationError) as exc_info:
        comms_services.send_message(
            incident=response.incident,
            actor=agent,
            override_reason="I think it is fine.",
            **message_fields(response.incident),
        )

    assert exc_info.value.code == "legal_approval_required"


@pytest.mark.django_db
def test_the_portal_suppresses_its_own_customer_messages_during_the_hold(response):
    from comms.models import MessageTemplate as Template

    template = Template.objects.get(key="customer-checking-in")
    message = comms_services.send_template(
        incident=response.incident,
        version=template.current_version,
        actor=None,
        audience="customer",
        channel="email",
        stage=template.stage,
        situation=template.situation,
        recipients=[response.incident.customer.email],
    )

    assert message.status == Message.Status.SUPPRESSED
    assert "Legal" in message.status_reason


@pytest.mark.django_db
def test_security_notice_template_is_refused_on_any_other_incident(agent):
    with pytest.raises(ValidationError) as exc_info:
        _security_notice(IncidentFactory(), agent, send=False)

    assert exc_info.value.code == "not_a_security_incident"


@pytest.mark.django_db
def test_compose_page_refuses_the_security_notice_with_a_message(
    response, agent_client
):
    incident = response.incident

    page = agent_client.post(
        reverse("comms:compose", args=[incident.pk]),
        {
            "audience": "customer",
            "channel": "email",
            "stage": "follow_up",
            # Emptied, as a crafted post would: the hold does not read them.
            "situation": "",
            "template_version": "",
            "recipients": incident.customer.email,
            "subject": "Important security notice",
            "body": "Text",
            "action": "Send",
        },
    )

    assert page.status_code == 200
    assert "Legal has not yet approved" in page.content.decode()
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_lessons_learned_opens_a_security_post_mortem(response, agent):
    postmortem = services.start_lessons_learned(response=response, actor=agent)

    assert postmortem.is_security_review
    assert PostMortem.objects.get(incident=response.incident) == postmortem


@pytest.mark.django_db
def test_security_page_flags_and_shows_the_clocks(agent_client, time_machine):
    time_machine.move_to(FLAGGED, tick=False)
    incident = IncidentFactory(priority=Priority.P1, detected_at=DETECTED)

    response = agent_client.post(
        reverse("incidents:security_flag", args=[incident.pk]),
        {"incident_type": "account_compromise"},
        follow=True,
    )

    page = response.content.decode()
    assert "Account compromise" in page
    assert "Lessons learned" in page
    assert "Tell at once" in page


@pytest.mark.django_db
def test_bad_security_type_is_a_message(agent_client):
    incident = IncidentFactory(priority=Priority.P1)

    response = agent_client.post(
        reverse("incidents:security_flag", args=[incident.pk]),
        {"incident_type": "aliens"},
        follow=True,
    )

    assert "Pick the kind of security incident." in response.content.decode()


@pytest.mark.django_db
def test_a_security_incident_cannot_close_until_its_response_and_legal_are_done(
    response, agent, manager
):
    def blockers():
        return " ".join(services.closure_blockers(response.incident))

    assert "Every response phase done" in blockers()
    assert "Legal approved the customer notice" in blockers()

    for phase in response.phases.order_by("due_at", "pk"):
        for item in phase.items.all():
            services.tick_security_item(item=item, actor=agent)
        services.complete_security_phase(phase=phase, actor=agent)
    services.record_legal_approval(
        response=response, actor=manager, approver="Dana Legal", note="EU users"
    )
    incident = services.refresh_checklists(incident=response.incident, actor=None)

    assert "Every response phase done" not in " ".join(
        services.closure_blockers(incident)
    )
    assert "Legal approved" not in " ".join(services.closure_blockers(incident))
    ticked = incident.checklists.get(template__name="Security incident closure")
    assert set(ticked.items.values_list("state", flat=True)) == {"done"}


@pytest.mark.django_db
def test_the_immediate_contacts_are_data_an_admin_edits(time_machine, agent):
    from incidents.models import SecurityContact

    SecurityContact.objects.filter(key="cto").update(is_active=False)
    SecurityContact.objects.create(
        key="dpo", label="Data protection officer", contact="dpo@example.com"
    )
    time_machine.move_to(FLAGGED, tick=False)
    incident = IncidentFactory(priority=Priority.P1, detected_at=DETECTED)

    response = services.flag_security_incident(
        incident=incident, actor=agent, incident_type="data_breach"
    )

    told = list(response.notifications.values_list("label", "contact"))
    assert ("Data protection officer", "dpo@example.com") in told
    assert "CTO" not in [label for label, _ in told]
    assert ("Security officer", "security@fleetmanagement.com") in told


@pytest.mark.django_db
def test_every_incident_tab_says_it_is_a_security_incident(response, agent_client):
    for url in (
        response.incident.get_absolute_url(),
        reverse("comms:incident_messages", args=[response.incident.pk]),
        reverse("incidents:closure", args=[response.incident.pk]),
    ):
        page = agent_client.get(url).content.decode()

        assert "Security incident." in page, url
        assert "Legal has not yet" in page, url


@pytest.mark.django_db
def test_the_security_notice_says_only_what_the_response_recorded(
    response, agent, agent_client
):
    incident = response.incident
    link = reverse("comms:compose", args=[incident.pk])

    before = agent_client.get(
        link, {"audience": "customer", "situation": "security_notice"}
    )
    body = before.context["form"].initial["body"]

    # Nothing ticked and no fix written: it promises to say more, and claims
    # nothing nobody recorded.
    assert "reached data in our systems without permission" in body
    assert "We are still working to secure our systems" in body
    assert "law enforcement" not in body and "security firm" not in body

    contain = response.phases.get(kind=SecurityPhaseKind.CONTAIN)
    for text in ("Disable compromised user accounts", "Turn on extra logging"):
        services.tick_security_item(item=contain.items.get(text=text), actor=agent)

    after = agent_client.get(
        link, {"audience": "customer", "situation": "security_notice"}
    )
    body = after.context["form"].initial["body"]
    assert "- We disabled the accounts involved." in body
    assert "extra logging" not in body
    assert "We are still working to secure our systems" not in body


@pytest.mark.django_db
def test_an_oversized_legal_note_is_refused_naming_the_note(response, client, manager):
    client.force_login(manager)

    page = client.post(
        reverse("incidents:security_legal", args=[response.incident_id]),
        {"approver": "Dana Legal", "note": "x" * 1_000_000},
        follow=True,
    ).content.decode()

    response.refresh_from_db()
    assert response.legal_approved_at is None
    assert "Who is told, by when, what may be said: Ensure this value" in page
    assert "Name the person in Legal" not in page


@pytest.mark.django_db
def test_an_admins_phase_window_and_step_reach_the_next_security_incident(
    response, agent, admin_client
):
    from incidents.models import SecurityPhaseTemplate

    contain = SecurityPhaseTemplate.objects.get(kind="contain")
    page = admin_client.get(
        reverse("admin:incidents_securityphasetemplate_change", args=[contain.pk])
    ).content.decode()
    assert "Disable compromised user accounts" in page
    contain.due_after_minutes = 45
    contain.save()
    contain.items.create(group="Isolate", text="Revoke the vendor's VPN access")

    later = services.flag_security_incident(
        incident=IncidentFactory(priority=Priority.P1, detected_at=DETECTED),
        actor=agent,
        incident_type="data_breach",
    )

    assert _phase(later, "contain").due_at == DETECTED + dt.timedelta(minutes=45)
    assert (
        _phase(later, "contain")
        .items.filter(text="Revoke the vendor's VPN access")
        .exists()
    )
    # The response already running keeps the phases it was given.
    assert _phase(response, "contain").due_at == DETECTED + dt.timedelta(minutes=60)
    assert not _phase(response, "contain").items.filter(text__startswith="Revoke")


@pytest.mark.django_db
def test_a_phase_cannot_be_due_before_it_starts():
    from incidents.models import SecurityPhaseTemplate

    phase = SecurityPhaseTemplate(kind="recover", starts_after_minutes=60)
    phase.due_after_minutes = 30

    with pytest.raises(ValidationError) as refused:
        phase.clean()
    assert "due before it starts" in str(refused.value)


@pytest.mark.django_db
def test_the_security_report_is_written_on_the_page_and_kept_on_a_clash(
    response, agent, agent_client, other_agent
):
    url = reverse("incidents:security", args=[response.incident_id])
    page = agent_client.get(url).content.decode()
    assert "Security incident report" in page and 'name="attack_vectors"' in page

    saved = agent_client.post(
        reverse("incidents:security_report", args=[response.incident_id]),
        {
            "attack_vectors": "A phished admin password; no second factor.",
            "data_accessed": "Names and e-mail addresses of 1,200 drivers.",
            "actions_taken": "Password reset, sessions revoked, MFA enforced.",
            "shown_written_at": "",
        },
    )
    assert saved.status_code == 302
    response.refresh_from_db()
    assert response.data_accessed.startswith("Names and e-mail")
    assert response.report_written_by == agent
    event = response.incident.timeline_events.filter(kind="edited").last()
    assert "Security report: attack vectors" in event.details["changes"]

    # Someone who opened the page before that save does not overwrite it.
    clash = agent_client.post(
        reverse("incidents:security_report", args=[response.incident_id]),
        {"attack_vectors": "My own words", "shown_written_at": ""},
    )
    assert clash.status_code == 400
    body = clash.content.decode()
    assert "Someone wrote the security report while you were writing" in body
    assert "My own words" in body
    response.refresh_from_db()
    assert response.attack_vectors.startswith("A phished")
    # Having seen the clash, saving the kept text again goes through.
    again = agent_client.post(
        reverse("incidents:security_report", args=[response.incident_id]),
        {
            "attack_vectors": "My own words",
            "shown_written_at": re.search(
                r'name="shown_written_at" value="([^"]*)"', body
            )[1],
        },
    )
    assert again.status_code == 302
    response.refresh_from_db()
    assert response.attack_vectors == "My own words"


@pytest.mark.django_db
def test_clocks_start_even_when_an_admin_dropped_the_notify_phase(agent, time_machine):
    from incidents.models import SecurityPhaseTemplate

    SecurityPhaseTemplate.objects.filter(kind="notify").update(is_active=False)
    time_machine.move_to(FLAGGED, tick=False)
    response = services.flag_security_incident(
        incident=IncidentFactory(priority=Priority.P1, detected_at=DETECTED),
        actor=agent,
        incident_type="data_breach",
    )
    gdpr = RegulatoryRegime.objects.get(key="gdpr")

    services.choose_regulatory_clocks(response=response, actor=agent, regimes=[gdpr])

    assert response.regulatory_clocks.count() == 1
    assert not response.phases.filter(kind="notify").exists()


@pytest.mark.django_db
def test_the_regulator_notice_draft_and_the_post_mortem_quote_the_report(
    response, agent, agent_client
):
    """004 step 6 files the regulators' notices; step 7's review keeps the
    complete incident report. Both draw on the report written once."""
    gdpr = RegulatoryRegime.objects.get(key="gdpr")
    services.choose_regulatory_clocks(response=response, actor=agent, regimes=[gdpr])
    security_url = reverse("incidents:security", args=[response.incident_id])

    before = agent_client.get(security_url).content.decode()
    draft = before.split('class="pre-wrap border rounded p-2 mb-0 regulatory-draft">')[
        1
    ].split("</pre>")[0]
    assert response.incident.reference in draft and "GDPR" in draft
    assert "21 Nov 2026, 11:00 UTC" in draft  # 72 h from detection
    assert draft.count("Not in the security report yet") == 3

    services.write_security_report(
        response=response,
        actor=agent,
        attack_vectors="A phished admin password; no second factor.",
        data_accessed="Names and e-mail addresses of 1,200 drivers.",
        actions_taken="Password reset, sessions revoked, MFA enforced.",
    )
    after = agent_client.get(security_url).content.decode()
    assert "Names and e-mail addresses of 1,200 drivers." in after
    assert "Not in the security report yet" not in after

    services.start_lessons_learned(response=response, actor=agent)
    review = agent_client.get(
        reverse("incidents:postmortem", args=[response.incident_id])
    ).content.decode()
    assert "Security report" in review
    for text in (
        "A phished admin password; no second factor.",
        "Names and e-mail addresses of 1,200 drivers.",
        "Password reset, sessions revoked, MFA enforced.",
    ):
        assert text in review
