"""Writing many rows at once: PostgreSQL's COPY, where Django's bulk_create
spends most of its time in Python (preparing each value, then dumping the
arrays of its UNNEST insert).

For bulk loads (the demo at 100,000 incidents) and the sweep's chunks: rows
written here skip save(), signals and validation, like bulk_create's, so they
must be built complete. A broken constraint raises Django's IntegrityError.
"""

from collections.abc import Callable
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, models
from psycopg.types.json import Jsonb


def insert_rows(model: type[models.Model], rows: list[models.Model]) -> None:
    """Insert ``rows`` (unsaved instances of ``model``) and set their keys."""
    if not rows:
        return
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor != "postgresql":
        model.objects.bulk_create(rows, batch_size=1000)
        return
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not f.generated]
    values = [_reader(field, connection) for field in fields]
    table = connection.ops.quote_name(meta.db_table)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    with connection.wrap_database_errors, connection.cursor() as cursor:
        # Keys first, from the table's own sequence, so the rows can carry
        # them and the caller can point other rows at them.
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) "
            "FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, len(rows)],
        )
        for row, (key,) in zip(rows, cursor.fetchall(), strict=True):
            row.pk = key
        with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([value(row) for value in values])
    for row in rows:
        row._state.adding = False
        row._state.db = connection.alias


def _reader(field: models.Field, connection) -> Callable[[models.Model], Any]:
    """How to read ``field``'s value of a row as COPY takes it: most values
    go as they are; JSON is wrapped, and automatic stamps are filled in."""
    if isinstance(field, models.JSONField):
        encoder = field.encoder
        return lambda row: Jsonb(
            getattr(row, field.attname),
            dumps=(lambda value: encoder().encode(value)) if encoder else None,
        )
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return lambda row: field.pre_save(row, add=True)
    attname = field.attname
    return lambda row: getattr(row, attname)
