"""Reads the API shares: the token a request carries, the rows it lists."""

import datetime as dt
import hmac

from django.db.models import Q, QuerySet

from incidents.models import Customer, Incident
from incidents.selectors import REFERENCE_PATTERN

from .models import ApiToken
from .services import KEY_PREFIX_LENGTH, TOKEN_PREFIX, hash_token

# The largest id an API path or cursor may name (a bigint column).
INTEGER_MAX = 2**63 - 1
# Longer than any token issued; anything past it is not worth hashing.
TOKEN_MAX_LENGTH = 100


def usable_token(text: str, *, now: dt.datetime) -> ApiToken | None:
    """Return the live token ``text`` is, with its user, or None.

    Found by its prefix, then checked by comparing hashes in constant time,
    so the lookup cannot be timed to guess a token. Revoked or expired
    tokens, and tokens of deactivated people, are refused.
    """
    if not (
        text.startswith(TOKEN_PREFIX)
        and len(TOKEN_PREFIX) + KEY_PREFIX_LENGTH < len(text) <= TOKEN_MAX_LENGTH
        and text.isascii()
        and text.isprintable()
    ):
        return None
    prefix = text[len(TOKEN_PREFIX) :][:KEY_PREFIX_LENGTH]
    token = ApiToken.objects.select_related("user").filter(prefix=prefix).first()
    if token is None or not hmac.compare_digest(token.key_hash, hash_token(text)):
        return None
    if token.revoked_at is not None:
        return None
    if token.expires_at is not None and token.expires_at <= now:
        return None
    if not token.user.is_active:
        return None
    return token


def incident_id(reference: str) -> int | None:
    """Return the id ``INC-00042`` (or ``42``) names, or None."""
    match = REFERENCE_PATTERN.match(reference)
    if match is None:
        return None
    pk = int(match.group(1))
    return pk if 0 < pk <= INTEGER_MAX else None


def incident_rows() -> QuerySet:
    """Return incidents with what the API shows of each joined in."""
    return Incident.objects.select_related(
        "customer", "category", "owner", "signal", "policy"
    )


def incident_by_reference(reference: str) -> Incident | None:
    """Return the incident ``reference`` names, ready to show, or None."""
    pk = incident_id(reference)
    return None if pk is None else incident_rows().filter(pk=pk).first()


def customers_matching(text: str) -> QuerySet:
    """Return customers as the customer search finds them, unlimited."""
    text = text.strip()
    customers = Customer.objects.select_related("policy")
    if not text:
        return customers
    return customers.filter(
        Q(account_id__istartswith=text)
        | Q(email__istartswith=text)
        | Q(name__icontains=text)
    )
