"""Customer updates on a P1 or systemic incident link the status page once it
shows the incident (fleet playbook: "check our status page for real-time
updates").

The same refresh as 0006: templates an admin has edited are left alone.
"""

import importlib

from django.db import migrations

refresh = importlib.import_module(
    "comms.migrations.0006_refresh_default_library"
).refresh


class Migration(migrations.Migration):
    dependencies = [
        ("comms", "0031_status_page_channel"),
        ("statuspage", "0001_initial"),
    ]

    operations = [migrations.RunPython(refresh, migrations.RunPython.noop)]
