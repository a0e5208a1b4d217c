"""Repeated failed sign-ins lock the account, from that address, for a while."""

import datetime as dt

import pytest
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests"
LOCKED = "Sign-in is locked."


@pytest.fixture(autouse=True)
def fast_hashing(settings):
    # Every attempt checks a password; the default hasher is slow on purpose.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def person(db):
    return UserFactory(username="throttled", role="Agent")


def sign_in(client, password, username="throttled", address="10.0.0.7"):
    return client.post(
        reverse("login"),
        {"username": username, "password": password},
        REMOTE_ADDR=address,
    )


def signed_in(client):
    return "_auth_user_id" in client.session


def test_failed_sign_ins_below_the_limit_only_say_the_password_is_wrong(
    client, person, settings
):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = sign_in(client, "wrong")

    assert response.status_code == 200
    assert LOCKED not in response.content.decode()
    assert "correct username and password" in response.content.decode()


def test_repeated_failures_lock_the_account_with_a_message(client, person, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "wrong")

    response = sign_in(client, PASSWORD)

    assert response.status_code == 429
    page = response.content.decode()
    assert LOCKED in page
    assert "Wait 15 minutes" in page
    assert 'name="password"' in page
    assert not signed_in(client)


def test_lockout_ends_after_the_cool_off(client, person, settings, time_machine):
    time_machine.move_to(dt.datetime(2026, 11, 18, 12, 0, tzinfo=dt.UTC), tick=False)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "wrong")
    time_machine.move_to(dt.datetime(2026, 11, 18, 12, 16, tzinfo=dt.UTC), tick=False)

    response = sign_in(client, PASSWORD)

    assert response.status_code == 302
    assert signed_in(client)


def test_lockout_holds_one_account_from_one_address(client, person, settings):
    UserFactory(username="colleague", role="Agent")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "wrong")

    colleague = sign_in(client, PASSWORD, username="colleague")
    client.logout()
    elsewhere = sign_in(client, PASSWORD, address="10.0.0.8")

    assert colleague.status_code == 302
    assert elsewhere.status_code == 302


def test_success_resets_the_failure_count(client, person, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(client, "wrong")
    assert sign_in(client, PASSWORD).status_code == 302
    client.logout()

    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(client, "wrong")
    response = sign_in(client, PASSWORD)

    assert response.status_code == 302
    assert signed_in(client)


def test_force_login_still_signs_in(client, person):
    client.force_login(person)

    assert client.get(reverse("incidents:list")).status_code == 200


def via_proxy(client, password, client_address):
    """Sign in through a TLS proxy at 10.9.9.9 that names the client."""
    return client.post(
        reverse("login"),
        {"username": "throttled", "password": password},
        REMOTE_ADDR="10.9.9.9",
        HTTP_X_FORWARDED_FOR=f"198.51.100.66, {client_address}",
    )


def test_behind_a_trusted_proxy_a_stranger_cannot_lock_someone_out(
    client, person, settings
):
    settings.TRUSTED_PROXY_COUNT = 1
    for _ in range(settings.AXES_FAILURE_LIMIT):
        via_proxy(client, "wrong", client_address="203.0.113.5")

    response = via_proxy(client, PASSWORD, client_address="192.0.2.10")

    assert response.status_code == 302
    assert signed_in(client)


def test_without_a_trusted_proxy_the_header_is_ignored(client, person, settings):
    settings.TRUSTED_PROXY_COUNT = 0
    for n in range(settings.AXES_FAILURE_LIMIT):
        # A client making up a new address each time gains nothing.
        via_proxy(client, "wrong", client_address=f"203.0.113.{n}")

    response = via_proxy(client, PASSWORD, client_address="192.0.2.10")

    assert response.status_code == 429
