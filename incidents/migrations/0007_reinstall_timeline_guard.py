"""Put the append-only guard back on the timeline.

SQLite rebuilds a table to alter it (0006 changed the kind choices), and a
rebuild drops the table's triggers. Any later migration that alters
incidents_timelineevent must end with this step again; the
test_timeline_events_cannot_be_edited_in_the_database test catches a miss.
"""

from django.db import migrations

from incidents.migrations import _timeline_guard


class Migration(migrations.Migration):
    dependencies = [("incidents", "0006_timeline_message_kinds")]

    operations = [
        migrations.RunPython(_timeline_guard.reinstall, migrations.RunPython.noop)
    ]
