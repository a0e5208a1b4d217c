import pytest
from django.contrib.auth.models import Group, Permission

from tests.factories import UserFactory


@pytest.mark.django_db
def test_permissions_combine_own_and_group_permissions_in_one_query(
    django_assert_num_queries,
):
    group = Group.objects.create(name="Readers")
    group.permissions.add(Permission.objects.get(codename="view_customer"))
    user = UserFactory()
    user.groups.add(group)
    user.user_permissions.add(Permission.objects.get(codename="add_incident"))

    with django_assert_num_queries(1):
        permissions = user.get_all_permissions()
        may_view = user.has_perm("incidents.view_customer")
        may_delete = user.has_perm("incidents.delete_incident")

    assert permissions == {"incidents.view_customer", "incidents.add_incident"}
    assert may_view
    assert not may_delete


@pytest.mark.django_db
def test_superusers_and_inactive_users_keep_djangos_rules():
    root = UserFactory(is_superuser=True)
    gone = UserFactory(is_active=False)
    gone.user_permissions.add(Permission.objects.get(codename="add_incident"))

    assert root.has_perm("incidents.delete_incident")
    assert not gone.has_perm("incidents.add_incident")
