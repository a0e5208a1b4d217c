"""Who a request acts as: the bearer token, its scope and its person."""

from django.core.exceptions import PermissionDenied
from django.utils import timezone
from ninja.security import HttpBearer

from . import selectors, services
from .models import ApiToken


class ScopeRefused(PermissionDenied):
    """A read token on an endpoint that changes something."""

    code = "read_only_token"


class TokenAuth(HttpBearer):
    """``Authorization: Bearer sbt_…``; the request then acts as its person.

    ``scope="write"`` refuses read tokens with a 403 (the token is fine, it
    may just not do this), where a missing or dead token is a 401.
    """

    def __init__(self, *, scope: str = ApiToken.Scope.READ):
        self.scope = scope
        super().__init__()

    def __call__(self, request):
        scheme, _, text = request.headers.get(self.header, "").partition(" ")
        if scheme.lower() != self.openapi_scheme or not text.strip():
            return None
        return self.authenticate(request, text.strip())

    def authenticate(self, request, token):
        now = timezone.now()
        found = selectors.usable_token(token, now=now)
        if found is None:
            return None
        services.note_token_used(token=found, now=now)
        if self.scope == ApiToken.Scope.WRITE and not found.can_write:
            raise ScopeRefused(
                "This token may only read; ask an admin for a write token."
            )
        # The services and permission checks read the person from here, as
        # they do on the pages.
        request.user = found.user
        return found


read_token = TokenAuth()
write_token = TokenAuth(scope=ApiToken.Scope.WRITE)
