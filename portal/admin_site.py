from functools import update_wrapper

from django.conf import settings
from django.contrib.admin import AdminSite
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

ADMIN_GROUP = "Admin"


class AdminsOnlySite(AdminSite):
    """The Django admin, open to members of the Admin group only.

    Anyone else who is signed in gets a page saying so (403), not the admin's
    own login form; people who are not signed in use the portal's sign-in
    page, the one form that login throttling and its messages cover.
    """

    site_header = "Switchboard administration"
    site_title = "Switchboard admin"
    index_title = "Templates, policies and reference data"

    def has_permission(self, request):
        user = request.user
        if not (user.is_active and user.is_staff):
            return False
        return user.is_superuser or user.groups.filter(name=ADMIN_GROUP).exists()

    def admin_view(self, view, cacheable=False):
        checked = super().admin_view(view, cacheable)

        def refuse_non_admins(request, *args, **kwargs):
            if request.user.is_authenticated and not self.has_permission(request):
                return self.refuse(request)
            return checked(request, *args, **kwargs)

        return update_wrapper(refuse_non_admins, checked)

    @login_not_required
    def login(self, request, extra_context=None):
        if not request.user.is_authenticated:
            next_url = request.GET.get("next", "")
            if not url_has_allowed_host_and_scheme(
                next_url, allowed_hosts={request.get_host()}
            ):
                next_url = reverse("admin:index", current_app=self.name)
            return redirect_to_login(next_url, settings.LOGIN_URL)
        if not self.has_permission(request):
            return self.refuse(request)
        return HttpResponseRedirect(reverse("admin:index", current_app=self.name))

    def refuse(self, request):
        """Answer 403 with a way back; Django logs it as one warning line."""
        return TemplateResponse(request, "registration/admin_refused.html", status=403)
