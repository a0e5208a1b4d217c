"""The executive escalation reads as the automation agency's playbook lays it
out: the "[EXECUTIVE ESCALATION]" subject, the client, the issue with its
reputation risk, what was done and where it stands, what the client needs to
hear and what we recommend the executive does.

The same refresh as 0006: templates an admin has edited are left alone.
"""

import importlib

from django.db import migrations

refresh = importlib.import_module(
    "comms.migrations.0006_refresh_default_library"
).refresh


class Migration(migrations.Migration):
    dependencies = [("comms", "0024_escalation_promises_per_tier")]

    operations = [migrations.RunPython(refresh, migrations.RunPython.noop)]
