"""Signing in, and each person's own settings."""

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from portal import sso
from portal.middleware import SESSION_TIME_ZONE_KEY

from .. import services
from ..forms import (
    TimeZoneForm,
)
from ..models import (
    StaffProfile,
)


class SignInView(auth_views.LoginView):
    """Sign in, then carry the person's time zone in the session."""

    def get_form_class(self):
        # With single sign-on on, a form that can refuse passwords.
        return sso.sign_in_form_class(super().get_form_class())

    def get_context_data(self, **kwargs):
        return {
            **super().get_context_data(**kwargs),
            **sso.sign_in_options(self.request),
        }

    def form_valid(self, form):
        response = super().form_valid(form)
        profile = StaffProfile.objects.filter(user=form.get_user()).first()
        if profile:
            self.request.session[SESSION_TIME_ZONE_KEY] = profile.time_zone
        return response


@require_http_methods(["GET", "POST"])
def profile(request):
    current = (
        request.session.get(SESSION_TIME_ZONE_KEY)
        or timezone.get_current_timezone_name()
    )
    form = TimeZoneForm(request.POST or None, initial={"time_zone": current})
    if request.method == "POST" and form.is_valid():
        try:
            services.choose_time_zone(
                user=request.user, time_zone=form.cleaned_data["time_zone"]
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            request.session[SESSION_TIME_ZONE_KEY] = form.cleaned_data["time_zone"]
            messages.success(request, "Time zone saved.")
            return redirect("profile")
    return render(request, "incidents/profile.html", {"form": form})
