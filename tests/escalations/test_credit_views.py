"""Credit pages: permissions, messages, redirects, bad input, query counts."""

import csv
import datetime as dt
import io

import pytest
from django.urls import reverse

from escalations import services
from escalations.models import CreditRequest
from tests.factories import (
    CustomerFactory,
    IncidentFactory,
    UserFactory,
    request_test_credit,
)


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def incident(db):
    return IncidentFactory()


def _request_url(incident):
    return reverse("escalations:incident_credits", args=[incident.pk])


def _form(**overrides):
    return {
        "kind": "refund",
        "amount": "250.00",
        "currency": "USD",
        "reason": "Billed twice.",
        **overrides,
    }


def test_agent_requests_a_credit_from_the_incident(agent_client, incident, agent):
    response = agent_client.post(_request_url(incident), _form())

    assert response.status_code == 302
    credit = CreditRequest.objects.get()
    assert (credit.amount, credit.requested_by, credit.customer) == (
        250,
        agent,
        incident.customer,
    )
    page = agent_client.get(_request_url(incident)).content.decode()
    assert "250.00 USD" in page
    assert "Awaiting a decision" in page


@pytest.mark.parametrize(
    ("overrides", "text"),
    [
        ({"amount": "0"}, "more than zero"),
        ({"amount": "-10"}, "more than zero"),
        ({"amount": "ten"}, "as a number"),
        ({"amount": "10.001"}, "two decimals"),
        ({"amount": "99999999999"}, "far over"),
        ({"amount": "50000.01"}, "largest request"),
        ({"currency": "EUR"}, "not a currency"),
        ({"currency": "E1"}, "3 characters"),
        ({"reason": ""}, "required"),
        ({"kind": "bribe"}, "valid choice"),
        ({"kind": "plan_extension"}, "how many days"),
    ],
)
def test_bad_request_input_is_refused_on_the_form(
    agent_client, incident, overrides, text
):
    response = agent_client.post(_request_url(incident), _form(**overrides))

    assert response.status_code == 400
    assert text in response.content.decode()
    assert not CreditRequest.objects.exists()


def test_incident_page_offers_decisions_only_within_authority(client, incident, agent):
    small = request_test_credit(incident, agent, amount="80.00")
    large = request_test_credit(incident, agent, amount="129.00")
    client.force_login(UserFactory(username="agent-p", role="Agent"))

    page = client.get(_request_url(incident)).content.decode()

    assert reverse("escalations:credit_approve", args=[small.pk]) in page
    assert reverse("escalations:credit_approve", args=[large.pk]) not in page
    assert reverse("escalations:credit_cancel", args=[large.pk]) not in page
    assert "Waits for someone whose approval limit covers it" in page


def test_user_without_role_cannot_see_or_request_credits(
    client, user_without_role, incident
):
    client.force_login(user_without_role)

    assert client.get(_request_url(incident)).status_code == 403
    assert client.post(_request_url(incident), _form()).status_code == 403
    assert client.get(reverse("escalations:credit_queue")).status_code == 403


def test_queue_lists_only_what_the_approver_may_decide(client, incident, agent):
    small = request_test_credit(incident, agent, amount="80.00")
    large = request_test_credit(incident, agent, amount="6000.00")
    credit_only = request_test_credit(
        incident, agent, kind="service_credit", amount="20"
    )
    other_agent = UserFactory(username="agent-q", role="Agent")
    client.force_login(other_agent)

    page = client.get(reverse("escalations:credit_queue")).content.decode()

    assert f'id="credit-{small.pk}"' in page
    assert f'id="credit-{large.pk}"' not in page
    assert f'id="credit-{credit_only.pk}"' not in page
    # The navigation counts the same requests.
    assert 'title="1 credit request you may decide"' in page


def test_own_requests_stay_out_of_the_queue(client, incident, manager):
    own = request_test_credit(incident, manager, amount="80.00")
    client.force_login(manager)

    page = client.get(reverse("escalations:credit_queue")).content.decode()

    assert f'id="credit-{own.pk}"' not in page


def test_manager_approves_from_the_queue(client, incident, agent, manager):
    credit = request_test_credit(incident, agent)
    client.force_login(manager)

    response = client.post(
        reverse("escalations:credit_approve", args=[credit.pk]),
        {"reason": "Fair."},
        follow=True,
    )

    credit.refresh_from_db()
    assert credit.status == CreditRequest.Status.APPROVED
    assert response.redirect_chain[-1][0] == reverse("escalations:credit_queue")
    assert "Approved 250.00 USD" in response.content.decode()


def test_approval_beyond_authority_is_refused_with_a_message(client, incident, agent):
    credit = request_test_credit(incident, agent, amount="150.00")
    client.force_login(UserFactory(username="agent-z", role="Agent"))

    response = client.post(
        reverse("escalations:credit_approve", args=[credit.pk]), follow=True
    )

    assert "beyond your authority" in response.content.decode()
    credit.refresh_from_db()
    assert credit.status == CreditRequest.Status.REQUESTED


def test_self_approval_from_the_page_is_refused(client, incident, manager):
    credit = request_test_credit(incident, manager, amount="50.00")
    client.force_login(manager)

    response = client.post(
        reverse("escalations:credit_approve", args=[credit.pk]), follow=True
    )

    assert "someone else must decide" in response.content.decode()
    credit.refresh_from_db()
    assert credit.status == CreditRequest.Status.REQUESTED


def test_rejection_without_a_reason_is_refused(client, incident, agent, manager):
    credit = request_test_credit(incident, agent)
    client.force_login(manager)

    response = client.post(
        reverse("escalations:credit_reject", args=[credit.pk]),
        {"reason": ""},
        follow=True,
    )

    assert "Say why the credit is refused" in response.content.decode()
    credit.refresh_from_db()
    assert credit.status == CreditRequest.Status.REQUESTED


def test_second_decision_is_told_who_decided(
    client, incident, agent, manager, other_manager
):
    credit = request_test_credit(incident, agent)
    services.approve_credit(credit=credit, actor=manager)
    client.force_login(other_manager)

    response = client.post(
        reverse("escalations:credit_reject", args=[credit.pk]),
        {"reason": "Too much"},
        follow=True,
    )

    assert f"{manager.get_full_name()} already approved" in response.content.decode()


def test_apply_and_cancel_from_the_incident_page(
    agent_client, incident, agent, other_agent, manager
):
    # Someone other than the requester applies it (four eyes on money).
    applied = request_test_credit(incident, other_agent)
    services.approve_credit(credit=applied, actor=manager)
    cancelled = request_test_credit(incident, agent, amount="40")
    back = _request_url(incident)

    agent_client.post(
        reverse("escalations:credit_apply", args=[applied.pk]),
        {"billing_reference": "INV-9", "next": back},
    )
    response = agent_client.post(
        reverse("escalations:credit_cancel", args=[cancelled.pk]),
        {"reason": "Customer changed plan instead.", "next": back},
    )

    assert response.url == back
    applied.refresh_from_db()
    cancelled.refresh_from_db()
    assert applied.status == CreditRequest.Status.APPLIED
    assert applied.billing_reference == "INV-9"
    assert cancelled.status == CreditRequest.Status.CANCELLED


def test_unsafe_next_goes_to_the_queue(client, incident, agent, manager):
    credit = request_test_credit(incident, agent)
    client.force_login(manager)

    response = client.post(
        reverse("escalations:credit_approve", args=[credit.pk]),
        {"next": "https://evil.example/"},
    )

    assert response.url == reverse("escalations:credit_queue")


@pytest.mark.parametrize("back", ["2147483648", "0001-01-01", "credit_queue"])
def test_next_that_is_not_a_path_goes_to_the_queue(
    client, incident, agent, manager, back
):
    # redirect() took such text for a view name and answered a server error.
    credit = request_test_credit(incident, agent)
    client.force_login(manager)

    response = client.post(
        reverse("escalations:credit_approve", args=[credit.pk]), {"next": back}
    )

    assert response.status_code == 302
    assert response.url == reverse("escalations:credit_queue")


def test_export_gives_finance_the_month_as_csv(
    client, incident, agent, manager, time_machine
):
    time_machine.move_to(dt.datetime(2026, 10, 31, 23, 0, tzinfo=dt.UTC), tick=False)
    request_test_credit(incident, agent, amount="10.00")
    time_machine.move_to(dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC), tick=False)
    credit = request_test_credit(incident, agent, reason='=HYPERLINK("x")')
    client.force_login(manager)

    response = client.get(
        reverse("escalations:credit_export"), {"month": "2026-11", "basis": "requested"}
    )

    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:3] == ["credit", "incident", "customer"]
    assert [row[0] for row in rows[1:]] == [str(credit.pk)]
    assert rows[1][5:7] == ["250.00", "USD"]
    assert rows[1][-1].startswith("'=")  # no formula runs in the spreadsheet


@pytest.mark.parametrize("month", ["2026-13", "nope", "", "1700-01"])
def test_export_with_a_bad_month_says_so(client, manager, month):
    client.force_login(manager)

    response = client.get(
        reverse("escalations:credit_export"), {"month": month}, follow=True
    )

    assert response.status_code == 200
    assert "month" in response.content.decode().lower()


def test_agents_may_not_export(agent_client):
    response = agent_client.get(
        reverse("escalations:credit_export"), {"month": "2026-11"}
    )

    assert response.status_code == 403


def test_systemic_incident_asks_which_customer(agent_client, agent):
    from incidents import services as incident_services

    incident = IncidentFactory(customer=None, is_systemic=True)
    affected = CustomerFactory()
    incident_services.add_affected_customer(
        incident=incident, actor=None, customer=affected
    )
    stranger = CustomerFactory()

    refused = agent_client.post(_request_url(incident), _form(customer=stranger.pk))
    accepted = agent_client.post(_request_url(incident), _form(customer=affected.pk))

    assert refused.status_code == 400
    assert accepted.status_code == 302
    assert CreditRequest.objects.get().customer == affected


# --- Constant query counts ---------------------------------------------------


def _many_credits(incident, agent, count):
    for n in range(count):
        request_test_credit(incident, agent, amount=f"{10 + n}.00")


@pytest.mark.parametrize("count", [2, 30])
def test_queue_query_count_is_constant(
    client, incident, agent, manager, django_assert_num_queries, count
):
    _many_credits(incident, agent, count)
    approved = request_test_credit(incident, agent)
    services.approve_credit(
        credit=approved, actor=UserFactory(username="vp-q", role="VP")
    )
    client.force_login(manager)

    # session, user, permissions, queue count, queue page, to-apply count,
    # to-apply page, navigation: credits badge, approvals badge, escalation
    # approvals badge
    with django_assert_num_queries(10):
        response = client.get(reverse("escalations:credit_queue"))

    assert response.status_code == 200


@pytest.mark.parametrize("count", [2, 30])
def test_incident_credits_query_count_is_constant(
    agent_client, incident, agent, manager, django_assert_num_queries, count
):
    _many_credits(incident, agent, count)

    # session, user, permissions, incident, credit rules, affected customers,
    # count, page, evidence (prefetch), which ones the user may decide,
    # navigation badge, the form's messages, the security hold (and an open
    # escalation stopping customer contact) and what the portal will write
    with django_assert_num_queries(15):
        response = agent_client.get(_request_url(incident))

    assert response.status_code == 200


@pytest.mark.parametrize("count", [2, 30])
def test_export_query_count_is_constant(
    client, incident, agent, manager, django_assert_num_queries, count
):
    _many_credits(incident, agent, count)
    client.force_login(manager)
    month = dt.date.today().strftime("%Y-%m")

    # session, user, permissions, the credits in one query
    with django_assert_num_queries(4):
        response = client.get(reverse("escalations:credit_export"), {"month": month})

    assert len(response.content.decode().splitlines()) == count + 1


def test_incident_timeline_shows_the_credit(agent_client, incident, agent):
    request_test_credit(incident, agent)

    page = agent_client.get(incident.get_absolute_url()).content.decode()

    assert "Credit requested" in page
    assert "refund of 250.00 USD" in page


def test_authority_raised_in_the_admin_applies_to_the_waiting_request(
    client, admin_user, incident, agent, manager
):
    from escalations.models import ApprovalLimit

    credit = request_test_credit(incident, agent, amount="6000.00")
    limit = ApprovalLimit.objects.get(
        policy=incident.policy, group__name="Manager", kind=""
    )
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:escalations_approvallimit_change", args=[limit.pk]),
        {
            "policy": limit.policy_id,
            "group": limit.group_id,
            "kind": "",
            "currency": "USD",
            "max_amount": "7500.00",
        },
    )

    assert response.status_code == 302
    client.force_login(manager)
    page = client.get(reverse("escalations:credit_queue")).content.decode()
    assert f'id="credit-{credit.pk}"' in page
    services.approve_credit(credit=credit, actor=manager)


def test_admin_refuses_an_open_ended_limit_in_a_currency_without_a_rate(
    client, admin_user, incident
):
    from django.contrib.auth.models import Group

    client.force_login(admin_user)

    response = client.post(
        reverse("admin:escalations_approvallimit_add"),
        {
            "policy": incident.policy_id,
            "group": Group.objects.get(name="VP").pk,
            "kind": "",
            "currency": "EUR",
            "max_amount": "",
        },
    )

    assert response.status_code == 200
    assert "no rate for EUR" in response.content.decode()


def test_admin_cannot_add_or_edit_credit_requests(client, admin_user, incident, agent):
    credit = request_test_credit(incident, agent)
    client.force_login(admin_user)

    assert client.get(reverse("admin:escalations_creditrequest_add")).status_code == 403
    page = client.get(
        reverse("admin:escalations_creditrequest_change", args=[credit.pk])
    )
    assert page.status_code == 200
    assert 'name="status"' not in page.content.decode()
