"""The urgent alert gives the customer's e-mail and the agent's own words on
why it is urgent and what is at risk, not the incident's whole narrative.

The same refresh as 0006: templates an admin has edited are left alone.
"""

import importlib

from django.db import migrations

refresh = importlib.import_module(
    "comms.migrations.0006_refresh_default_library"
).refresh


class Migration(migrations.Migration):
    dependencies = [("comms", "0019_library_names_who_escalated")]

    operations = [migrations.RunPython(refresh, migrations.RunPython.noop)]
