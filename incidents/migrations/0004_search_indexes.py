"""Trigram indexes for the incident list's search, on PostgreSQL only.

`icontains` on the title and `istartswith` on customer names compile to
UPPER(col) LIKE UPPER(%s); GIN trigram indexes on UPPER(col) serve both, so
search stays fast at 100,000 incidents. SQLite scans, which is fine at the
sizes it is meant for.
"""

from django.db import migrations

UP = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS incident_title_trgm_idx ON incidents_incident "
    "USING gin ((UPPER(title::text)) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS customer_name_trgm_idx ON incidents_customer "
    "USING gin ((UPPER(name::text)) gin_trgm_ops)",
]
DOWN = [
    "DROP INDEX IF EXISTS incident_title_trgm_idx",
    "DROP INDEX IF EXISTS customer_name_trgm_idx",
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in UP:
            schema_editor.execute(statement)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in DOWN:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("incidents", "0003_shipped_policies")]

    operations = [migrations.RunPython(create, drop)]
