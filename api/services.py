"""Changes the API makes that no other app owns: its tokens, and customers.

Customers are otherwise edited in the admin only, so no app had a service
for them; ``create_customer`` and ``update_customer`` stand here until
incidents has its own (TODO(#28): move them to incidents.services).
"""

import datetime as dt
import hashlib
import secrets
from typing import Any

from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from incidents.models import Customer

from .models import ApiToken

TOKEN_PREFIX = "sbt_"
# The characters after TOKEN_PREFIX that name the row.
KEY_PREFIX_LENGTH = 8


def hash_token(token: str) -> str:
    """Return the hex SHA-256 the database keeps in place of ``token``."""
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def issue_api_token(
    *,
    user,
    name: str,
    scope: str,
    actor,
    expires_at: dt.datetime | None = None,
) -> tuple[ApiToken, str]:
    """Make a token acting as ``user``; return it and its text, shown once."""
    if not user.is_active:
        raise ValidationError(
            {"user": ValidationError("That account is inactive.", code="inactive")}
        )
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError(
            {
                "expires_at": ValidationError(
                    "The expiry must be in the future.", code="past_expiry"
                )
            }
        )
    for _attempt in range(5):
        text = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = ApiToken(
            user=user,
            name=name.strip(),
            scope=scope,
            expires_at=expires_at,
            created_by=actor,
            prefix=text[len(TOKEN_PREFIX) :][:KEY_PREFIX_LENGTH],
            key_hash=hash_token(text),
        )
        token.full_clean(exclude=["prefix"])
        try:
            # Two tokens sharing a prefix: one in 2**48, and a retry settles it.
            with transaction.atomic():
                token.save()
        except IntegrityError:
            continue
        return token, text
    raise RuntimeError("No free token prefix after five tries.")


@transaction.atomic
def revoke_api_token(*, token: ApiToken, actor) -> ApiToken:
    """Stop a token working, from its next request on."""
    now = timezone.now()
    changed = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=now, revoked_by=actor
    )
    if not changed:
        raise ValidationError("That token is already revoked.", code="revoked")
    token.revoked_at, token.revoked_by = now, actor
    return token


# A token's last use is written at most this often: a busy integration
# would otherwise write its row on every request.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


def note_token_used(*, token: ApiToken, now: dt.datetime) -> None:
    """Stamp the token's last use, at most once a minute.

    A conditional UPDATE: of several requests in the same minute, on any
    number of web processes, one writes and the rest change nothing.
    """
    stale_before = now - LAST_USED_RESOLUTION
    if token.last_used_at is not None and token.last_used_at > stale_before:
        return
    ApiToken.objects.filter(pk=token.pk).exclude(last_used_at__gt=stale_before).update(
        last_used_at=now
    )
    token.last_used_at = now


def _log(actor, customer: Customer, flag: int, message: list) -> None:
    # The admin's history of the customer shows API changes beside its own.
    LogEntry.objects.log_actions(
        actor.pk, [customer], flag, change_message=message, single_object=True
    )


@transaction.atomic
def create_customer(*, actor, **fields: Any) -> Customer:
    """Add a customer, as an admin does in the admin."""
    customer = Customer(**fields)
    customer.full_clean()
    customer.save()
    _log(actor, customer, ADDITION, [{"added": {}}])
    return customer


@transaction.atomic
def update_customer(*, customer: Customer, actor, changes: dict[str, Any]) -> Customer:
    """Change a customer's details, as an admin does in the admin."""
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    changed = [
        name for name, value in changes.items() if getattr(customer, name) != value
    ]
    if not changed:
        return customer
    for name in changed:
        setattr(customer, name, changes[name])
    customer.full_clean()
    customer.save(update_fields=[*changed, "updated_at"])
    labels = [str(Customer._meta.get_field(name).verbose_name) for name in changed]
    _log(actor, customer, CHANGE, [{"changed": {"fields": labels}}])
    return customer
