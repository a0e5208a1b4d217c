"""Customers and staff to pick from: the customer search and the assignees."""

from django.contrib.auth import get_user_model
from django.db.models import Case, Q, QuerySet, When

from ..models import (
    Customer,
)
from .lists import CUSTOMER_TEXT_MAX_LENGTH


def customers_matching(text: str, *, limit: int = 10) -> QuerySet:
    """Return customers whose account id or e-mail starts with ``text``, or
    whose name contains it; exact matches first, then name prefixes."""
    text = text.strip()
    # PostgreSQL cannot take a NUL character in a query parameter, and no
    # customer field is longer than an e-mail address (SQLite refuses a LIKE
    # pattern of 50,000 characters).
    if not 2 <= len(text) <= CUSTOMER_TEXT_MAX_LENGTH or "\x00" in text:
        return Customer.objects.none()
    # A surname ("Becker") is found inside the name; the trigram index on
    # UPPER(name) serves icontains as well as istartswith.
    return (
        Customer.objects.filter(
            Q(account_id__istartswith=text)
            | Q(email__istartswith=text)
            | Q(name__icontains=text)
        )
        .annotate(
            rank=Case(
                When(
                    Q(account_id__iexact=text)
                    | Q(email__iexact=text)
                    | Q(name__iexact=text),
                    then=0,
                ),
                When(Q(name__istartswith=text), then=1),
                default=2,
            )
        )
        .only("id", "name", "email", "account_id", "segment", "is_vip")
        .order_by("rank", "name", "id")[:limit]
    )


# An ambiguous name lists at most this many of the customers it could be.
AMBIGUOUS_LISTED = 5


def customers_named_exactly(text: str) -> list[Customer]:
    """Return the customers ``text`` names exactly, as typed in a customer box.

    An account id names one customer. Otherwise a full e-mail, or else a
    full name (case aside), names every customer that has it; a few more
    than are listed are returned so the caller can say "and more".
    """
    text = text.strip()
    if not text or "\x00" in text:
        return []
    by_account = Customer.objects.filter(account_id=text).first()
    if by_account is not None:
        return [by_account]
    field = "email__iexact" if "@" in text else "name__iexact"
    return list(
        Customer.objects.filter(**{field: text}).order_by("name", "account_id")[
            : AMBIGUOUS_LISTED + 1
        ]
    )


def assignable_staff() -> QuerySet:
    """Return the people an incident can be given to."""
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .only("id", "username", "first_name", "last_name")
        .order_by("first_name", "last_name", "username")
    )


def assignable_staff_choices() -> list[tuple[int, str]]:
    """Return (id, name) of the people an incident can be given to, for a select."""
    return [
        (pk, f"{first} {last}".strip() or username)
        for pk, username, first, last in assignable_staff().values_list(
            "id", "username", "first_name", "last_name"
        )
    ]
