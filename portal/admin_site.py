from django.contrib.admin import AdminSite

ADMIN_GROUP = "Admin"


class AdminsOnlySite(AdminSite):
    """The Django admin, open to members of the Admin group only."""

    site_header = "Switchboard administration"
    site_title = "Switchboard admin"
    index_title = "Templates, policies and reference data"

    def has_permission(self, request):
        user = request.user
        if not (user.is_active and user.is_staff):
            return False
        return user.is_superuser or user.groups.filter(name=ADMIN_GROUP).exists()
