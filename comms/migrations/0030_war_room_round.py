"""Ship the war room's status-round post (fleet playbook, Sev 1 step 5).

The same refresh as 0006: templates an admin has edited are left alone.
"""

import importlib

from django.db import migrations

refresh = importlib.import_module(
    "comms.migrations.0006_refresh_default_library"
).refresh


class Migration(migrations.Migration):
    dependencies = [
        ("comms", "0029_message_handover_progress"),
        ("incidents", "0041_war_room_rounds"),
    ]

    operations = [migrations.RunPython(refresh, migrations.RunPython.noop)]
