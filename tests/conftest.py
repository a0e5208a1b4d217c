import datetime as dt
import shutil

import pytest

from tests.factories import UserFactory

ROLES = ["Agent", "Senior agent", "Manager", "VP", "Admin"]


@pytest.fixture(autouse=True)
def fresh_cache():
    """Start every test with an empty cache: counts kept by one test's data
    must not show in the next one's."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def cheap_password_hashing(settings):
    """Hash test passwords with MD5: PBKDF2's million rounds cost 0.4 s a user.

    Nothing here tests the hasher itself; sign-in works the same with either.
    """
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def agent(db):
    return UserFactory(username="agent-a", role="Agent")


@pytest.fixture
def other_agent(db):
    return UserFactory(username="agent-b", role="Agent")


@pytest.fixture
def manager(db):
    return UserFactory(username="manager-a", role="Manager")


@pytest.fixture
def other_manager(db):
    return UserFactory(username="manager-b", role="Manager")


@pytest.fixture
def admin_user(db):
    return UserFactory(username="admin-a", role="Admin", is_staff=True)


@pytest.fixture
def user_without_role(db):
    return UserFactory(username="nobody")


@pytest.fixture
def agent_client(client, agent):
    client.force_login(agent)
    return client


@pytest.fixture
def q2_sync(monkeypatch):
    """Run django-q2 tasks in-process, as soon as they are enqueued."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)


@pytest.fixture
def frozen_now(time_machine):
    """A fixed Wednesday noon UTC; tests move from here."""
    moment = dt.datetime(2026, 11, 18, 12, 0, tzinfo=dt.UTC)
    time_machine.move_to(moment, tick=False)
    return moment


def chromium_available() -> bool:
    return bool(shutil.which("chromium") and shutil.which("chromedriver"))
