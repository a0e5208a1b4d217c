"""Authentication backend: Django's model backend, with permissions in one query.

Every page asks for permissions (the navigation shows what a role may do).
Django's ModelBackend loads them in two ORM queries, user permissions and
group permissions, which cost about 5 ms of a 40 ms incident page. This
backend loads both in one plain query and caches them on the user for the
request, where ModelBackend looks for them too.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection


def _permissions_sql() -> str:
    user_model = get_user_model()
    return (
        "SELECT ct.app_label, p.codename"
        f" FROM {Permission._meta.db_table} p"
        f" JOIN {ContentType._meta.db_table} ct ON ct.id = p.content_type_id"
        " WHERE p.id IN ("
        " SELECT up.permission_id"
        f" FROM {user_model.user_permissions.through._meta.db_table} up"
        " WHERE up.user_id = %s"
        " UNION"
        " SELECT gp.permission_id"
        f" FROM {Group.permissions.through._meta.db_table} gp"
        f" JOIN {user_model.groups.through._meta.db_table} ug"
        " ON ug.group_id = gp.group_id"
        " WHERE ug.user_id = %s)"
    )


class PermissionBackend(ModelBackend):
    """Load a user's own and group permissions in one query."""

    def get_all_permissions(self, user_obj, obj=None):
        if (
            not user_obj.is_active
            or user_obj.is_anonymous
            or obj is not None
            or user_obj.is_superuser
        ):
            return super().get_all_permissions(user_obj, obj=obj)
        if not hasattr(user_obj, "_perm_cache"):
            with connection.cursor() as cursor:
                cursor.execute(_permissions_sql(), [user_obj.pk, user_obj.pk])
                user_obj._perm_cache = {
                    f"{app_label}.{codename}" for app_label, codename in cursor
                }
        return user_obj._perm_cache
