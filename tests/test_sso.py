"""Single sign-on against a local OpenID Connect provider, and the password switch."""

import urllib.error
import urllib.request
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.models import Group
from django.test import RequestFactory
from django.urls import reverse

from portal.sso import NO_ROLE
from tests.factories import UserFactory
from tests.fake_oidc import FakeProvider
from tests.test_browser import assert_nothing_refused, browser  # noqa: F401

pytestmark = pytest.mark.django_db

User = get_user_model()

PASSWORD = "pw-for-tests"
ROLE_MAP = {
    "support-agents": "Agent",
    "support-seniors": "Senior agent",
    "support-managers": "Manager",
    "vp": "VP",
    "switchboard-admins": "Admin",
}


@pytest.fixture
def provider(settings):
    with FakeProvider() as fake:
        for name, value in fake.settings().items():
            setattr(settings, name, value)
        settings.SSO_PROVIDER_NAME = "Acme ID"
        settings.SSO_ROLE_MAP = ROLE_MAP
        yield fake


def person(*groups, email="ada@example.com", verified=True, **claims):
    return {
        "sub": f"sub-{email}",
        "email": email,
        "email_verified": verified,
        "preferred_username": email.split("@")[0],
        "given_name": "Ada",
        "family_name": "Lovelace",
        "groups": list(groups),
        **claims,
    }


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def sign_in_with_provider(client, provider, claims, next_url=""):
    """Walk the browser's path: portal, provider, back to the portal."""
    provider.person = claims
    start = client.get(
        reverse("oidc_authentication_init") + (f"?next={next_url}" if next_url else "")
    )
    assert start.status_code == 302
    try:
        urllib.request.build_opener(NoRedirects).open(start["Location"], timeout=5)
    except urllib.error.HTTPError as answer:
        assert answer.code == 302
        back = urlsplit(answer.headers["Location"])
    else:
        raise AssertionError("The provider did not send the browser back.")
    return client.get(back.path, dict(parse_qsl(back.query)), follow=True)


def signed_in_user(client):
    user_id = client.session.get("_auth_user_id")
    return User.objects.get(pk=user_id) if user_id else None


def roles(user):
    return set(user.groups.values_list("name", flat=True))


def test_first_sign_in_creates_the_person_with_the_mapped_roles(client, provider):
    response = sign_in_with_provider(
        client, provider, person("support-managers", "lunch-club")
    )

    user = signed_in_user(client)
    assert response.redirect_chain[-1] == (reverse("home"), 302)
    assert (user.username, user.email) == ("ada", "ada@example.com")
    assert (user.first_name, user.last_name) == ("Ada", "Lovelace")
    assert roles(user) == {"Manager"}
    assert not user.is_staff
    assert not user.has_usable_password()


def test_sign_in_returns_to_the_page_asked_for(client, provider):
    response = sign_in_with_provider(
        client, provider, person("support-agents"), next_url="/me/"
    )

    assert response.redirect_chain[-1] == ("/me/", 302)


def test_admin_group_makes_the_person_staff_and_losing_it_unmakes_them(
    client, provider
):
    sign_in_with_provider(client, provider, person("switchboard-admins"))
    made = signed_in_user(client)
    client.logout()

    sign_in_with_provider(client, provider, person("support-agents"))
    unmade = signed_in_user(client)

    assert made.is_staff
    assert not unmade.is_staff
    assert roles(unmade) == {"Agent"}


def test_a_superuser_who_loses_the_admin_group_loses_superuser_too(client, provider):
    # The demo's admins are superusers: the role, not the flag, decides.
    superuser = UserFactory(
        username="ada",
        email="ada@example.com",
        role="Admin",
        is_staff=True,
        is_superuser=True,
    )

    sign_in_with_provider(client, provider, person("support-agents"))

    superuser.refresh_from_db()
    assert (superuser.is_staff, superuser.is_superuser) == (False, False)
    assert roles(superuser) == {"Agent"}


def test_later_sign_in_with_changed_groups_changes_the_roles(client, provider):
    user = UserFactory(username="alovelace", email="Ada@Example.com", role="Agent")
    readers = Group.objects.create(name="Readers")
    user.groups.add(readers)

    sign_in_with_provider(client, provider, person("support-managers"))
    promoted = roles(user)
    client.logout()
    sign_in_with_provider(client, provider, person("support-seniors"))

    assert signed_in_user(client) == user
    assert promoted == {"Manager", "Readers"}
    assert roles(user) == {"Senior agent", "Readers"}
    assert User.objects.count() == 1


def test_sign_in_without_a_mapped_group_is_refused_with_a_message(client, provider):
    response = sign_in_with_provider(client, provider, person("lunch-club"))

    assert response.redirect_chain[-1] == (reverse("login"), 302)
    assert NO_ROLE in response.content.decode()
    assert signed_in_user(client) is None
    assert not User.objects.filter(email="ada@example.com").exists()


def test_person_removed_from_every_mapped_group_loses_the_roles(client, provider):
    user = UserFactory(username="ada", email="ada@example.com", role="Manager")

    response = sign_in_with_provider(client, provider, person())

    assert NO_ROLE in response.content.decode()
    assert signed_in_user(client) is None
    assert roles(user) == set()


def test_unverified_email_does_not_match_an_account(client, provider):
    UserFactory(username="ada", email="ada@example.com", role="Manager")

    response = sign_in_with_provider(
        client, provider, person("support-managers", verified=False)
    )

    assert "did not confirm your e-mail" in response.content.decode()
    assert signed_in_user(client) is None


def test_unknown_person_is_refused_when_accounts_are_not_created(
    client, provider, settings
):
    settings.SSO_CREATE_USERS = False

    response = sign_in_with_provider(client, provider, person("support-agents"))

    assert "no Switchboard account yet" in response.content.decode()
    assert not User.objects.exists()


def test_new_username_avoids_one_taken(client, provider):
    UserFactory(username="ada", email="someone.else@example.com")

    sign_in_with_provider(client, provider, person("support-agents"))

    assert signed_in_user(client).username == "ada-2"


def test_break_glass_account_never_signs_in_through_the_provider(
    client, provider, settings
):
    settings.BREAK_GLASS_USERS = ["ada"]
    admin = UserFactory(
        username="ada", email="ada@example.com", role="Admin", is_staff=True
    )

    response = sign_in_with_provider(client, provider, person())

    assert "signs in with its password" in response.content.decode()
    assert signed_in_user(client) is None
    assert roles(admin) == {"Admin"}


def test_refused_sign_ins_lock_nobody_out(client, provider, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT + 1):
        sign_in_with_provider(client, provider, person("lunch-club"))

    sign_in_with_provider(client, provider, person("support-agents"))

    assert signed_in_user(client) is not None


def test_callback_with_a_forged_state_is_refused(client, provider):
    client.get(reverse("oidc_authentication_init"))

    response = client.get(
        reverse("oidc_authentication_callback"),
        {"code": "made-up", "state": "made-up"},
    )

    assert response.status_code == 400
    assert signed_in_user(client) is None


def test_provider_refusal_returns_to_the_sign_in_page(client, provider):
    client.get(reverse("oidc_authentication_init"))

    response = client.get(
        reverse("oidc_authentication_callback"),
        {"error": "access_denied", "state": "x"},
        follow=True,
    )

    assert response.redirect_chain[-1] == (reverse("login"), 302)
    assert "Sign-in with Acme ID did not complete" in response.content.decode()


def test_sign_in_page_offers_the_provider_and_the_password(client, provider):
    page = client.get(reverse("login"), {"next": "/me/"}).content.decode()

    assert 'href="/oidc/authenticate/?next=/me/"' in page
    assert "Sign in with Acme ID" in page
    assert 'name="password"' in page


def test_password_sign_in_off_shows_only_the_provider_button(
    client, provider, settings
):
    settings.PASSWORD_SIGN_IN = False

    page = client.get(reverse("login")).content.decode()

    assert "Sign in with Acme ID" in page
    assert 'name="password"' not in page


def test_password_sign_in_off_refuses_a_password(client, provider, settings, agent):
    settings.PASSWORD_SIGN_IN = False

    response = client.post(
        reverse("login"), {"username": "agent-a", "password": PASSWORD}
    )

    assert response.status_code == 200
    assert "Password sign-in is off; sign in with Acme ID." in response.content.decode()
    assert signed_in_user(client) is None


def test_password_sign_in_off_refuses_a_password_outside_the_form(
    provider, settings, agent
):
    settings.PASSWORD_SIGN_IN = False
    request = RequestFactory().post(reverse("login"))

    user = authenticate(request, username="agent-a", password=PASSWORD)

    assert user is None


def test_break_glass_admin_signs_in_with_a_password(
    client, provider, settings, admin_user
):
    settings.PASSWORD_SIGN_IN = False
    settings.BREAK_GLASS_USERS = ["admin-a"]
    page = client.get(reverse("login"), {"break-glass": ""}).content.decode()

    response = client.post(
        reverse("login") + "?break-glass",
        {"username": "admin-a", "password": PASSWORD},
    )

    assert 'name="password"' in page
    assert response.status_code == 302
    assert signed_in_user(client) == admin_user


def test_single_sign_on_off_leaves_the_sign_in_page_as_it_was(client):
    page = client.get(reverse("login")).content.decode()

    assert 'name="password"' in page
    assert "oidc" not in page
    assert "Sign in with" not in page


def test_single_sign_on_off_answers_404(client):
    start = client.get(reverse("oidc_authentication_init"))
    callback = client.get(
        reverse("oidc_authentication_callback"), {"code": "c", "state": "s"}
    )

    assert start.status_code == 404
    assert callback.status_code == 404


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_browser_signs_in_through_the_provider_unhindered(
    live_server,
    browser,  # noqa: F811 (the fixture of tests/test_browser.py)
    provider,
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    provider.person = person("support-agents")

    browser.get(live_server.url + reverse("login"))
    browser.find_element(By.LINK_TEXT, "Sign in with Acme ID").click()
    WebDriverWait(browser, 10).until(lambda d: "/login/" not in d.current_url)

    assert browser.current_url == live_server.url + reverse("home")
    assert roles(User.objects.get(email="ada@example.com")) == {"Agent"}
    assert_nothing_refused(browser)
