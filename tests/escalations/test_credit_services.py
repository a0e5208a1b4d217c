"""Credits and refunds: the rules the service holds for every caller."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError

from comms.models import Message
from escalations import services
from escalations.models import ApprovalLimit, CreditPolicy, CreditRequest, CurrencyRate
from incidents.models import Policy, TimelineEvent
from tests.assertions import error_codes
from tests.factories import IncidentFactory, UserFactory, request_test_credit

ROLE_USERS = {
    "Agent": "agent-decider",
    "Senior agent": "senior-decider",
    "Manager": "manager-decider",
    "VP": "vp-decider",
}


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    # Five users a test: hashing their passwords properly would dominate.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def deciders(db):
    return {
        role: UserFactory(username=name, role=role) for role, name in ROLE_USERS.items()
    }


@pytest.fixture
def incident(db):
    return IncidentFactory()


def _credit_events(incident, kind):
    return list(incident.timeline_events.filter(kind=kind))


# --- Authority at the shipped limits ----------------------------------------

# The shipped limits come from the carrier escalation guide and the fleet
# escalation playbook. Under the default carrier playbook: an agent decides
# refunds up to $100, a senior agent refunds up to $5,000, a manager any kind
# up to $5,000, the VP anything up to the cap.
REFUND_AUTHORITY = {
    "Agent": {"100.00": True, "100.01": False, "5000.00": False, "5000.01": False},
    "Senior agent": {"100.00": True, "100.01": True, "5000.00": True, "5000.01": False},
    "Manager": {"100.00": True, "100.01": True, "5000.00": True, "5000.01": False},
    "VP": {"100.00": True, "100.01": True, "5000.00": True, "5000.01": True},
}
SERVICE_CREDIT_AUTHORITY = {
    "Agent": {"100.00": False, "100.01": False, "5000.00": False, "5000.01": False},
    "Senior agent": {
        "100.00": False,
        "100.01": False,
        "5000.00": False,
        "5000.01": False,
    },
    "Manager": {"100.00": True, "100.01": True, "5000.00": True, "5000.01": False},
    "VP": {"100.00": True, "100.01": True, "5000.00": True, "5000.01": True},
}


def _cases(table, kind):
    return [
        pytest.param(kind, role, amount, allowed, id=f"{kind}-{role}-{amount}")
        for role, amounts in table.items()
        for amount, allowed in amounts.items()
    ]


@pytest.mark.parametrize(
    ("kind", "role", "amount", "allowed"),
    _cases(REFUND_AUTHORITY, "refund")
    + _cases(SERVICE_CREDIT_AUTHORITY, "service_credit"),
)
def test_approve_credit_follows_the_shipped_limits(
    incident, agent, deciders, kind, role, amount, allowed
):
    credit = request_test_credit(incident, agent, kind=kind, amount=amount)
    decider = deciders[role]

    if allowed:
        services.approve_credit(credit=credit, actor=decider)
        credit.refresh_from_db()
        assert credit.status == CreditRequest.Status.APPROVED
        assert credit.decided_by == decider
    else:
        with pytest.raises(ValidationError) as exc_info:
            services.approve_credit(credit=credit, actor=decider)
        assert error_codes(exc_info.value) == {"authority"}
        assert "beyond your authority" in exc_info.value.messages[0]
        credit.refresh_from_db()
        assert credit.status == CreditRequest.Status.REQUESTED
        assert not _credit_events(incident, TimelineEvent.Kind.CREDIT_APPROVED)


@pytest.mark.parametrize(
    ("role", "amount", "allowed"),
    [
        ("Agent", "100.00", False),
        ("Senior agent", "100.00", False),
        ("Manager", "5000.00", True),
        ("Manager", "5000.01", False),
        ("VP", "5000.01", True),
    ],
)
def test_fleet_policy_sends_every_credit_to_management(
    agent, deciders, role, amount, allowed
):
    incident = IncidentFactory(customer__policy=Policy.objects.get(name="Fleet SaaS"))
    credit = request_test_credit(incident, agent, amount=amount)

    refusal = services.authority_refusal(credit, deciders[role])

    assert (refusal is None) is allowed


def test_reject_credit_needs_the_same_authority(incident, agent, deciders):
    credit = request_test_credit(incident, agent, amount="5000.01")

    with pytest.raises(ValidationError) as exc_info:
        services.reject_credit(credit=credit, actor=deciders["Manager"], reason="No.")

    assert error_codes(exc_info.value) == {"authority"}


# --- Four eyes ---------------------------------------------------------------


def test_nobody_approves_their_own_request(incident, deciders):
    vp = deciders["VP"]
    credit = request_test_credit(incident, vp, amount="50.00")

    with pytest.raises(ValidationError) as exc_info:
        services.approve_credit(credit=credit, actor=vp)

    assert error_codes(exc_info.value) == {"self_approval"}
    assert "someone else" in exc_info.value.messages[0]
    credit.refresh_from_db()
    assert credit.status == CreditRequest.Status.REQUESTED


def test_nobody_rejects_their_own_request(incident, manager):
    credit = request_test_credit(incident, manager, amount="50.00")

    with pytest.raises(ValidationError) as exc_info:
        services.reject_credit(credit=credit, actor=manager, reason="Changed my mind")

    assert error_codes(exc_info.value) == {"self_approval"}


def test_database_refuses_a_self_decision_from_any_writer(incident, manager):
    from django.db import IntegrityError, transaction
    from django.utils import timezone

    credit = request_test_credit(incident, manager, amount="50.00")

    with pytest.raises(IntegrityError), transaction.atomic():
        CreditRequest.objects.filter(pk=credit.pk).update(
            status="approved", decided_by=manager, decided_at=timezone.now()
        )


# --- Authority is data -------------------------------------------------------


def test_authority_changed_in_the_admin_takes_effect_at_once(incident, agent, manager):
    credit = request_test_credit(incident, agent, amount="6000.00")
    assert services.authority_refusal(credit, manager) is not None
    limit = ApprovalLimit.objects.get(
        policy=incident.policy, group__name="Manager", kind=""
    )

    limit.max_amount = Decimal("7500.00")
    limit.save()

    assert services.authority_refusal(credit, manager) is None
    services.approve_credit(credit=credit, actor=manager)


def test_removing_a_limit_takes_authority_away_at_once(incident, agent, manager):
    credit = request_test_credit(incident, agent, amount="60.00")
    ApprovalLimit.objects.filter(policy=incident.policy, group__name="Manager").delete()

    with pytest.raises(ValidationError) as exc_info:
        services.approve_credit(credit=credit, actor=manager)

    assert error_codes(exc_info.value) == {"authority"}


# --- Bad input -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        ("0", "not_positive"),
        ("0.00", "not_positive"),
        ("-5", "not_positive"),
        ("abc", "invalid"),
        ("", "invalid"),
        ("NaN", "invalid"),
        ("Infinity", "invalid"),
        ("12.345", "too_many_decimals"),
        ("50000.01", "over_cap"),
        ("1" + "0" * 30, "over_cap"),
    ],
)
def test_request_credit_refuses_bad_amounts(incident, agent, amount, code):
    with pytest.raises(ValidationError) as exc_info:
        request_test_credit(incident, agent, amount=amount)

    assert error_codes(exc_info.value) == {code}
    assert not CreditRequest.objects.exists()
    assert not _credit_events(incident, TimelineEvent.Kind.CREDIT_REQUESTED)


def test_request_credit_accepts_the_cap_itself(incident, agent):
    credit = request_test_credit(incident, agent, amount="50000.00")

    assert credit.amount == Decimal("50000.00")


@pytest.mark.parametrize("currency", ["EUR", "XXX", "usd1", "", "€"])
def test_request_credit_refuses_currencies_the_policy_does_not_name(
    incident, agent, currency
):
    with pytest.raises(ValidationError) as exc_info:
        request_test_credit(incident, agent, currency=currency)

    assert error_codes(exc_info.value) <= {"unknown_currency", "invalid"}
    assert not CreditRequest.objects.exists()


def test_a_rate_lets_another_currency_in_and_converts_for_authority(
    incident, agent, deciders
):
    rules = CreditPolicy.objects.get(policy=incident.policy)
    CurrencyRate.objects.create(credit_policy=rules, currency="EUR", rate="1.10")

    credit = request_test_credit(incident, agent, currency="EUR", amount="91.00")

    assert credit.policy_amount == Decimal("100.10")
    assert services.authority_refusal(credit, deciders["Agent"]) is not None
    assert services.authority_refusal(credit, deciders["Senior agent"]) is None


def test_a_limit_in_another_currency_lets_it_in_unconverted(incident, agent, deciders):
    ApprovalLimit.objects.create(
        policy=incident.policy,
        group=Group.objects.get(name="Manager"),
        currency="GBP",
        max_amount="4000.00",
    )

    credit = request_test_credit(incident, agent, currency="gbp", amount="4000.00")
    with pytest.raises(ValidationError) as exc_info:
        request_test_credit(incident, agent, currency="GBP", amount="4000.01")

    assert credit.currency == "GBP" and credit.policy_amount is None
    assert services.authority_refusal(credit, deciders["Manager"]) is None
    assert services.authority_refusal(credit, deciders["VP"]) is not None
    assert error_codes(exc_info.value) == {"over_cap"}


def test_request_credit_needs_a_reason(incident, agent):
    with pytest.raises(ValidationError) as exc_info:
        request_test_credit(incident, agent, reason="  ")

    assert error_codes(exc_info.value) == {"reason_required"}


def test_plan_extension_needs_its_days(incident, agent):
    with pytest.raises(ValidationError) as exc_info:
        request_test_credit(incident, agent, kind="plan_extension")

    assert error_codes(exc_info.value) == {"days_required"}


def test_user_without_role_may_not_request(incident, user_without_role):
    with pytest.raises(PermissionDenied):
        request_test_credit(incident, user_without_role)


def test_reject_credit_needs_a_reason(incident, agent, manager):
    credit = request_test_credit(incident, agent)

    with pytest.raises(ValidationError) as exc_info:
        services.reject_credit(credit=credit, actor=manager, reason=" ")

    assert error_codes(exc_info.value) == {"reason_required"}
    credit.refresh_from_db()
    assert credit.status == CreditRequest.Status.REQUESTED


def test_decision_on_a_decided_request_names_who_decided(
    incident, agent, manager, other_manager
):
    credit = request_test_credit(incident, agent)
    services.reject_credit(credit=credit, actor=manager, reason="Not covered.")

    with pytest.raises(ValidationError) as exc_info:
        services.approve_credit(credit=credit, actor=other_manager)

    assert error_codes(exc_info.value) == {"already_decided"}
    assert manager.get_full_name() in exc_info.value.messages[0]
    assert "rejected" in exc_info.value.messages[0]


def test_decision_on_a_cancelled_request_is_refused(incident, agent, manager):
    credit = request_test_credit(incident, agent)
    services.cancel_credit(credit=credit, actor=agent, reason="Customer declined.")

    with pytest.raises(ValidationError) as exc_info:
        services.approve_credit(credit=credit, actor=manager)

    assert error_codes(exc_info.value) == {"already_decided"}
    assert "cancelled" in exc_info.value.messages[0]


# --- Lifecycle and the timeline contract --------------------------------------


def test_full_lifecycle_records_each_step_with_the_shared_details(
    incident, agent, other_agent, manager
):
    credit = request_test_credit(incident, agent, amount="250")
    services.approve_credit(credit=credit, actor=manager, reason="Fair.")
    services.apply_credit(credit=credit, actor=other_agent, billing_reference="INV-778")

    events = list(
        incident.timeline_events.filter(kind__startswith="credit_").order_by("id")
    )

    assert [e.kind for e in events] == [
        "credit_requested",
        "credit_approved",
        "credit_applied",
    ]
    for event in events:
        assert {
            "credit": credit.pk,
            "kind": "refund",
            "amount": "250.00",
            "currency": "USD",
        }.items() <= event.details.items()
    assert events[2].details["billing_reference"] == "INV-778"
    assert events[2].actor == other_agent
    credit.refresh_from_db()
    assert credit.status == CreditRequest.Status.APPLIED


def test_apply_credit_needs_an_approval_first(incident, agent):
    credit = request_test_credit(incident, agent)

    with pytest.raises(ValidationError) as exc_info:
        services.apply_credit(credit=credit, actor=agent, billing_reference="INV-1")

    assert error_codes(exc_info.value) == {"not_approved"}


def test_apply_credit_needs_a_billing_reference(incident, agent, manager):
    credit = request_test_credit(incident, agent)
    services.approve_credit(credit=credit, actor=manager)

    with pytest.raises(ValidationError) as exc_info:
        services.apply_credit(credit=credit, actor=agent, billing_reference=" ")

    assert error_codes(exc_info.value) == {"reference_required"}


def test_cancel_credit_by_a_bystander_is_refused(incident, agent, other_agent):
    credit = request_test_credit(incident, agent, amount="500.00")

    with pytest.raises(ValidationError) as exc_info:
        services.cancel_credit(credit=credit, actor=other_agent, reason="Oops")

    assert error_codes(exc_info.value) == {"not_allowed"}


def test_the_requester_cannot_apply_their_own_approved_credit(incident, agent, manager):
    credit = request_test_credit(incident, agent, amount="80.00")
    services.approve_credit(credit=credit, actor=manager)

    with pytest.raises(ValidationError) as exc_info:
        services.apply_credit(credit=credit, actor=agent, billing_reference="INV-9")

    assert error_codes(exc_info.value) == {"own_request"}


def test_the_requester_cannot_cancel_once_approved_even_as_a_decider(
    incident, deciders
):
    requester = deciders["Manager"]
    credit = request_test_credit(incident, requester, amount="80.00")
    services.approve_credit(credit=credit, actor=deciders["VP"])

    with pytest.raises(ValidationError) as exc_info:
        services.cancel_credit(credit=credit, actor=requester, reason="Changed mind")

    assert error_codes(exc_info.value) == {"not_allowed"}
    credit.refresh_from_db()
    assert credit.status == CreditRequest.Status.APPROVED


def test_cancelling_an_approved_credit_needs_a_decider_and_tells_the_customer(
    incident, agent, manager, other_manager
):
    credit = request_test_credit(incident, agent, amount="80.00")
    services.approve_credit(credit=credit, actor=manager)

    services.cancel_credit(credit=credit, actor=other_manager, reason="Duplicate")

    credit.refresh_from_db()
    assert credit.status == CreditRequest.Status.CANCELLED
    notice = Message.objects.get(incident=incident, situation="credit_cancelled")
    assert notice.recipients == [credit.customer.email]
    assert "cancel" in notice.body


def test_the_requester_may_still_withdraw_a_request_not_yet_decided(incident, agent):
    credit = request_test_credit(incident, agent, amount="80.00")

    services.cancel_credit(credit=credit, actor=agent, reason="Asked by mistake")

    credit.refresh_from_db()
    assert credit.status == CreditRequest.Status.CANCELLED
    assert not Message.objects.filter(situation="credit_cancelled").exists()


# --- The customer hears once ---------------------------------------------------


def test_approval_sends_the_customer_the_library_message_once(
    incident, agent, manager, other_manager, django_capture_on_commit_callbacks
):
    credit = request_test_credit(incident, agent, amount="250.00")

    with django_capture_on_commit_callbacks(execute=False):
        services.approve_credit(credit=credit, actor=manager)
    with pytest.raises(ValidationError):
        services.approve_credit(credit=credit, actor=other_manager)

    messages = list(Message.objects.filter(incident=incident, stage="post_incident"))
    assert len(messages) == 1
    message = messages[0]
    assert message.recipients == [incident.customer.email]
    assert message.template_version.template.key == "customer-credit-approved"
    assert "250.00 USD" in message.body
    assert "a refund" in message.body
    assert "Charged twice" not in message.body  # the internal reason stays inside
    credit.refresh_from_db()
    assert credit.customer_message == message
    approved = incident.timeline_events.get(kind="credit_approved")
    assert approved.details["credit"] == credit.pk


def test_approval_stands_when_the_template_is_switched_off(incident, agent, manager):
    from comms.models import MessageTemplate

    MessageTemplate.objects.filter(key="customer-credit-approved").update(
        is_active=False
    )
    credit = request_test_credit(incident, agent)

    credit = services.approve_credit(credit=credit, actor=manager)

    assert credit.status == CreditRequest.Status.APPROVED
    assert credit.customer_message is None
    assert "customer-credit-approved" in credit.customer_message_problem


# --- The library template ------------------------------------------------------


def test_credit_template_passes_the_library_checks():
    from comms.library import LIBRARY
    from comms.services import check_template_source

    entry = next(e for e in LIBRARY if e["key"] == "customer-credit-approved")

    check_template_source(
        subject=entry["subject"], body=entry["body"], audience=entry["audience"]
    )


def test_credit_template_is_never_picked_for_other_post_incident_messages(incident):
    from comms.selectors import template_for

    template = template_for(
        stage="post_incident", audience="customer", channel="email", incident=incident
    )

    assert template.key == "customer-post-incident"


def test_plan_extension_message_names_the_days(incident, agent, manager):
    credit = request_test_credit(
        incident, agent, kind="plan_extension", amount="30.00", extension_days=30
    )

    credit = services.approve_credit(credit=credit, actor=manager)

    assert "30 extra days" in credit.customer_message.body


def test_customer_message_follows_the_approval_rule(incident, agent, manager):
    from comms.models import DeliveryRule

    DeliveryRule.objects.create(audience="customer", mode="approval")
    credit = request_test_credit(incident, agent)

    credit = services.approve_credit(credit=credit, actor=manager)

    # The manager who approved the credit wrote the message: another must
    # approve it before it leaves.
    assert credit.customer_message.status == Message.Status.AWAITING_APPROVAL
    assert credit.customer_message.created_by == manager


def test_a_systemic_credit_greets_its_own_customer_not_the_reporter(agent, manager):
    from incidents import services as incident_services
    from tests.factories import CustomerFactory

    reporter = CustomerFactory(name="Reporting Co", contact_name="Rita Reporter")
    affected = CustomerFactory(name="Other Co", contact_name="Omar Other")
    incident = IncidentFactory(customer=reporter, is_systemic=True)
    incident_services.add_affected_customer(
        incident=incident, actor=agent, customer=affected
    )
    credit = request_test_credit(incident, agent, customer=affected)

    credit = services.approve_credit(credit=credit, actor=manager)

    message = credit.customer_message
    assert message.recipients == [affected.email]
    assert message.body.startswith("Hello Omar,")
    assert "Rita" not in message.body
    # The approved line stands as its own paragraph, amount with currency.
    assert "\n\nWe have approved a refund of 250.00 USD on your account.\n\n" in (
        message.body
    )
