"""Internal posts about an incident name its incident commander and war room
when a Sev 1 has them (the fleet escalation playbook, step 5).

The same refresh as 0006: templates an admin has edited are left alone.
"""

import importlib

from django.db import migrations

refresh = importlib.import_module(
    "comms.migrations.0006_refresh_default_library"
).refresh


class Migration(migrations.Migration):
    dependencies = [
        ("comms", "0025_executive_escalation_briefing"),
        ("incidents", "0035_war_room"),
    ]

    operations = [migrations.RunPython(refresh, migrations.RunPython.noop)]
