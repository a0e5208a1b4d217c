import pytest

from escalations.models import Tier
from incidents.models import Policy
from tests.factories import CustomerFactory, UserFactory


@pytest.fixture
def senior(db):
    return UserFactory(username="senior-a", role="Senior agent", email="s@x.test")


@pytest.fixture
def other_senior(db):
    return UserFactory(username="senior-b", role="Senior agent")


@pytest.fixture
def engineer(db):
    """A senior agent who is a member of the carrier Engineering tier."""
    user = UserFactory(username="engineer-a", role="Senior agent")
    Tier.objects.get(policy__name="Carrier playbook", key="engineering").members.add(
        user
    )
    return user


@pytest.fixture
def fleet_policy(db):
    return Policy.objects.get(name="Fleet SaaS")


@pytest.fixture
def carrier_policy(db):
    return Policy.objects.get(name="Carrier playbook")


@pytest.fixture
def fleet_customer(fleet_policy):
    return CustomerFactory(policy=fleet_policy)


def tier(policy_name: str, key: str) -> Tier:
    return Tier.objects.get(policy__name=policy_name, key=key)
