"""Cursor pagination: newest first by id, ``?limit=`` and ``?cursor=``.

A cursor is the last id of the page, signed with the list's name: it cannot
be forged or carried to another list, and a garbled one is a 400.
"""

from django.core import signing
from django.db.models import QuerySet

from .problems import CursorRefused

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def _salt(name: str) -> str:
    return f"api.cursor.{name}"


def encode_cursor(last_id: int, *, name: str) -> str:
    return signing.dumps(last_id, salt=_salt(name))


def decode_cursor(text: str, *, name: str) -> int:
    """Return the id a cursor names; CursorRefused if it is not ours."""
    try:
        last_id = signing.loads(text, salt=_salt(name))
    except (signing.BadSignature, ValueError, UnicodeError):
        raise CursorRefused from None
    if not isinstance(last_id, int) or isinstance(last_id, bool):
        raise CursorRefused
    if not 0 < last_id <= 2**63 - 1:
        raise CursorRefused
    return last_id


def cursor_page(
    queryset: QuerySet,
    *,
    name: str,
    limit: int,
    cursor: str | None,
    rows: QuerySet | None = None,
) -> tuple[list, str | None]:
    """Return one page of ``queryset`` (newest first) and the next cursor.

    With ``rows``, the page's ids are picked from ``queryset`` first and only
    they are loaded from ``rows``, joins and all: the list page's way, so a
    costly filter runs once and joins touch one page of rows. Either way the
    page costs the same queries however long the list.
    """
    ordered = queryset.order_by("-pk")
    if cursor:
        ordered = ordered.filter(pk__lt=decode_cursor(cursor, name=name))
    if rows is None:
        page = list(ordered[: limit + 1])
        more, page = len(page) > limit, page[:limit]
        last_id = page[-1].pk if page else None
    else:
        ids = list(ordered.values_list("pk", flat=True)[: limit + 1])
        more, ids = len(ids) > limit, ids[:limit]
        by_id = {row.pk: row for row in rows.filter(pk__in=ids)} if ids else {}
        page = [by_id[pk] for pk in ids if pk in by_id]
        last_id = ids[-1] if ids else None
    next_cursor = encode_cursor(last_id, name=name) if more else None
    return page, next_cursor
