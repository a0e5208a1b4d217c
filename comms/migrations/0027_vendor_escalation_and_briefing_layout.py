"""The vendor escalation loses a stray blank line, and the executive briefing
lists what was done one step a line.

The same refresh as 0006: templates an admin has edited are left alone.
"""

import importlib

from django.db import migrations

refresh = importlib.import_module(
    "comms.migrations.0006_refresh_default_library"
).refresh


class Migration(migrations.Migration):
    dependencies = [("comms", "0026_internal_posts_name_the_commander")]

    operations = [migrations.RunPython(refresh, migrations.RunPython.noop)]
