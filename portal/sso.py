"""Single sign-on with OpenID Connect, and the switch for password sign-in.

mozilla-django-oidc runs the authorization-code flow (with PKCE); this module
decides who gets in. The provider's groups set the portal roles named in
SSO_ROLE_MAP at every sign-in, so a person taken out of a group loses the
role the next time; groups the map does not name are left alone. People are
matched by verified e-mail address. With PASSWORD_SIGN_IN off, only the
BREAK_GLASS_USERS sign in with a password, and they never sign in through
the provider, so a provider account can neither take nor strip their roles.

Everything is off while OIDC_RP_CLIENT_ID is unset: the backend signs nobody
in, its pages answer 404, and the sign-in page shows the password form alone.
"""

import logging
import re

import jwt
import requests
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.models import Group
from django.core.exceptions import (
    PermissionDenied,
    SuspiciousOperation,
    ValidationError,
)
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect
from django.urls import path
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import (
    OIDCAuthenticationCallbackView,
    OIDCAuthenticationRequestView,
)

from incidents.models import StaffProfile
from portal.admin_site import ADMIN_GROUP
from portal.middleware import SESSION_TIME_ZONE_KEY

logger = logging.getLogger(__name__)

User = get_user_model()

NO_ROLE = "Your account has no Switchboard role; ask your admin."
# The sign-in page shows the password form with this in its query string
# even when password sign-in is off: the break-glass accounts' way in.
BREAK_GLASS_PARAMETER = "break-glass"
# What Django's username validator refuses, taken out of a new username.
NOT_IN_USERNAMES = re.compile(r"[^\w.@+-]")


def sso_enabled() -> bool:
    """Return whether single sign-on is configured."""
    return bool(settings.OIDC_RP_CLIENT_ID)


def password_sign_in_allowed(username: str | None) -> bool:
    """Return whether this username may sign in with a password.

    Password sign-in only goes off with single sign-on on, so that a
    misconfiguration cannot lock everybody out.
    """
    return (
        settings.PASSWORD_SIGN_IN
        or not sso_enabled()
        or username in settings.BREAK_GLASS_USERS
    )


def sign_in_form_class(default: type[AuthenticationForm]) -> type[AuthenticationForm]:
    """Return the password form: Django's, or one that may refuse passwords."""
    return PasswordSignInForm if sso_enabled() else default


def sign_in_options(request) -> dict:
    """Return what the sign-in page offers, for its template."""
    if not sso_enabled():
        return {}
    return {
        "sso_provider_name": settings.SSO_PROVIDER_NAME,
        "password_form_hidden": not settings.PASSWORD_SIGN_IN
        and BREAK_GLASS_PARAMETER not in request.GET,
    }


def is_single_sign_on_attempt(request, credentials: dict | None) -> bool:
    """Return whether django-axes sees a single sign-on callback.

    The callback authenticates with a nonce and a PKCE verifier, never a
    password: nothing there can be guessed, and counting its refusals (no
    role, say) would lock out everyone sharing that address.
    """
    return (
        credentials is not None
        and "nonce" in credentials
        and "password" not in credentials
    )


def provider_roles(claims: dict) -> set[str]:
    """Return the portal groups the provider's groups claim maps to."""
    groups = claims.get(settings.SSO_GROUPS_CLAIM) or []
    if isinstance(groups, str):
        groups = [groups]
    return {
        settings.SSO_ROLE_MAP[group]
        for group in groups
        if isinstance(group, str) and group in settings.SSO_ROLE_MAP
    }


@transaction.atomic
def set_roles_from_provider(*, user: User, roles: set[str]) -> User:
    """Give a person exactly the mapped roles their provider's groups name.

    Groups that SSO_ROLE_MAP does not name stay as they are. The Admin role
    brings the staff flag (the Django admin) with it, and takes it away;
    losing it also ends any superuser standing, which would outlast it.
    """
    managed = set(settings.SSO_ROLE_MAP.values())
    groups = {group.name: group for group in Group.objects.filter(name__in=managed)}
    if missing := managed - groups.keys():
        logger.error("SSO_ROLE_MAP names groups that do not exist: %s", missing)
    user.groups.remove(*(group for name, group in groups.items() if name not in roles))
    user.groups.add(*(group for name, group in groups.items() if name in roles))
    if ADMIN_GROUP in groups:
        is_admin = ADMIN_GROUP in roles
        if user.is_staff != is_admin or (user.is_superuser and not is_admin):
            user.is_staff = is_admin
            user.is_superuser = user.is_superuser and is_admin
            user.save(update_fields=["is_staff", "is_superuser"])
    return user


class PasswordSignInForm(AuthenticationForm):
    """The sign-in form, which refuses a password while password sign-in is off."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "password_sign_in_off": "Password sign-in is off; sign in with %(provider)s.",
    }

    def clean(self):
        username = self.cleaned_data.get("username")
        if username is not None and not password_sign_in_allowed(username):
            raise ValidationError(
                self.error_messages["password_sign_in_off"],
                code="password_sign_in_off",
                params={"provider": settings.SSO_PROVIDER_NAME},
            )
        return super().clean()


class PasswordSignInGate:
    """Refuse a password while password sign-in is off, whatever the form.

    Listed after django-axes and before the password backends; it signs
    nobody in and has no get_user(), so sessions never name it.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if password is not None and not password_sign_in_allowed(username):
            raise PermissionDenied("Password sign-in is off.")
        return None


class SingleSignOnBackend(OIDCAuthenticationBackend):
    """Sign people in from the provider's claims, with roles from its groups.

    A refusal is kept on the request (`sso_refusal`) for the callback view
    to show. Permissions are left to the password backends listed before
    this one, which hold them in one query.
    """

    def authenticate(self, request, *, nonce, code_verifier):
        # Keyword-only: Django passes a username and password to the
        # backends whose signature takes them, so this one never sees them.
        if not sso_enabled() or request is None:
            return None
        try:
            return super().authenticate(
                request, nonce=nonce, code_verifier=code_verifier
            )
        except (requests.RequestException, jwt.PyJWTError, SuspiciousOperation):
            logger.warning("Single sign-on failed", exc_info=True)
            return None

    def get_user(self, user_id):
        # Turning single sign-on off also ends the sessions it started.
        if not sso_enabled():
            return None
        return ModelBackend.get_user(self, user_id)

    def get_user_permissions(self, user_obj, obj=None):
        return set()

    def get_group_permissions(self, user_obj, obj=None):
        return set()

    def get_all_permissions(self, user_obj, obj=None):
        return set()

    def get_or_create_user(self, access_token, id_token, payload):
        userinfo = self.get_userinfo(access_token, id_token, payload)
        if userinfo.get("sub") != payload.get("sub"):
            raise SuspiciousOperation("The userinfo answer is for someone else.")
        audience = payload.get("aud")
        if self.OIDC_RP_CLIENT_ID not in (
            audience if isinstance(audience, list) else [audience]
        ):
            raise SuspiciousOperation("The ID token is for another client.")
        claims = {**payload, **userinfo}
        email = claims.get("email")
        if not email or claims.get("email_verified") not in (True, "true"):
            return self.refuse(
                "Your identity provider did not confirm your e-mail address;"
                " ask your admin."
            )

        users = list(self.filter_users_by_claims(claims)[:2])
        if len(users) > 1:
            return self.refuse(
                "More than one Switchboard account has your e-mail address;"
                " ask your admin."
            )
        user = users[0] if users else None
        if user and user.get_username() in settings.BREAK_GLASS_USERS:
            return self.refuse("This account signs in with its password.")
        if user and not user.is_active:
            return self.refuse("Your Switchboard account is off; ask your admin.")

        roles = provider_roles(claims)
        if not Group.objects.filter(name__in=roles).exists():
            if user:
                set_roles_from_provider(user=user, roles=set())
            return self.refuse(NO_ROLE)
        if user is None:
            if not settings.SSO_CREATE_USERS:
                return self.refuse(
                    "You have no Switchboard account yet; ask your admin."
                )
            user = self.create_user(claims)
        else:
            user = self.update_user(user, claims)
        return set_roles_from_provider(user=user, roles=roles)

    def refuse(self, message: str) -> None:
        self.request.sso_refusal = message
        logger.info("Single sign-on refused: %s", message)
        return None

    def create_user(self, claims):
        return User.objects.create_user(
            self.new_username(claims),
            email=claims["email"],
            first_name=claims.get("given_name", "")[:150],
            last_name=claims.get("family_name", "")[:150],
        )

    def update_user(self, user, claims):
        names = {
            "first_name": claims.get("given_name", user.first_name)[:150],
            "last_name": claims.get("family_name", user.last_name)[:150],
        }
        if any(getattr(user, field) != value for field, value in names.items()):
            for field, value in names.items():
                setattr(user, field, value)
            user.save(update_fields=list(names))
        return user

    def new_username(self, claims) -> str:
        """Return an unused username from preferred_username or the e-mail."""
        wanted = claims.get("preferred_username") or claims["email"].split("@")[0]
        base = NOT_IN_USERNAMES.sub("", str(wanted))[:140] or "user"
        candidate, number = base, 1
        while (
            candidate in settings.BREAK_GLASS_USERS
            or User.objects.filter(username__iexact=candidate).exists()
        ):
            number += 1
            candidate = f"{base}-{number}"
        return candidate


class SignInStartView(OIDCAuthenticationRequestView):
    """Send the browser to the provider (404 while single sign-on is off)."""

    def get(self, request):
        if not sso_enabled():
            raise Http404("Single sign-on is off.")
        return super().get(request)


class SignInCallbackView(OIDCAuthenticationCallbackView):
    """Finish signing in; a refusal goes back to the sign-in page, with why."""

    def get(self, request):
        if not sso_enabled():
            raise Http404("Single sign-on is off.")
        return super().get(request)

    def login_success(self):
        response = super().login_success()
        profile = StaffProfile.objects.filter(user=self.user).first()
        if profile:
            self.request.session[SESSION_TIME_ZONE_KEY] = profile.time_zone
        return response

    def login_failure(self):
        messages.error(
            self.request,
            getattr(self.request, "sso_refusal", None)
            or f"Sign-in with {settings.SSO_PROVIDER_NAME} did not complete;"
            " try again.",
        )
        return redirect("login")


# Reached before anyone is signed in, so outside LoginRequiredMiddleware.
# The names are the ones mozilla-django-oidc reverses.
urlpatterns = [
    path(
        "authenticate/",
        login_not_required(SignInStartView.as_view()),
        name="oidc_authentication_init",
    ),
    path(
        "callback/",
        login_not_required(SignInCallbackView.as_view()),
        name="oidc_authentication_callback",
    ),
]
