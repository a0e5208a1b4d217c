"""Make the timeline append-only in the database itself.

UPDATE is refused on every backend. DELETE is refused on PostgreSQL; SQLite
keeps it because Django's test flush empties tables with DELETE there (the
application never deletes timeline rows: incidents PROTECT them and the admin
refuses deletion).
"""

from django.db import migrations

POSTGRES_UP = """
CREATE OR REPLACE FUNCTION incidents_timeline_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'timeline events are append-only'
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER incidents_timeline_no_update
    BEFORE UPDATE OR DELETE ON incidents_timelineevent
    FOR EACH ROW EXECUTE FUNCTION incidents_timeline_refuse_change();
"""
POSTGRES_DOWN = """
DROP TRIGGER IF EXISTS incidents_timeline_no_update ON incidents_timelineevent;
DROP FUNCTION IF EXISTS incidents_timeline_refuse_change();
"""
SQLITE_UP = """
CREATE TRIGGER incidents_timeline_no_update
BEFORE UPDATE ON incidents_timelineevent
BEGIN
    SELECT RAISE(ABORT, 'timeline events are append-only');
END;
"""
SQLITE_DOWN = "DROP TRIGGER IF EXISTS incidents_timeline_no_update;"


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_UP)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_UP)


def uninstall(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_DOWN)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_DOWN)


class Migration(migrations.Migration):
    dependencies = [("incidents", "0001_initial")]

    operations = [migrations.RunPython(install, uninstall)]
