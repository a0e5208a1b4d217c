"""The database triggers that keep timeline events append-only.

Used by migrations 0002 and 0007 (and any later one that alters the table).
"""

POSTGRES = [
    """
    CREATE OR REPLACE FUNCTION incidents_timeline_refuse_change() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION 'timeline events are append-only'
            USING ERRCODE = 'restrict_violation';
    END;
    $$ LANGUAGE plpgsql
    """,
    "DROP TRIGGER IF EXISTS incidents_timeline_no_update ON incidents_timelineevent",
    """
    CREATE TRIGGER incidents_timeline_no_update
        BEFORE UPDATE OR DELETE ON incidents_timelineevent
        FOR EACH ROW EXECUTE FUNCTION incidents_timeline_refuse_change()
    """,
]
SQLITE = [
    "DROP TRIGGER IF EXISTS incidents_timeline_no_update",
    """
    CREATE TRIGGER incidents_timeline_no_update
    BEFORE UPDATE ON incidents_timelineevent
    BEGIN
        SELECT RAISE(ABORT, 'timeline events are append-only');
    END
    """,
]


def reinstall(apps, schema_editor):
    statements = {"postgresql": POSTGRES, "sqlite": SQLITE}.get(
        schema_editor.connection.vendor, []
    )
    for statement in statements:
        schema_editor.execute(statement)
