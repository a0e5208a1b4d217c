"""Untouched customer resolution e-mails gain the satisfaction survey link.

The same refresh as 0006: templates an admin has edited are left alone.
"""

import importlib

from django.db import migrations

refresh = importlib.import_module(
    "comms.migrations.0006_refresh_default_library"
).refresh


class Migration(migrations.Migration):
    dependencies = [("comms", "0007_credit_template")]

    operations = [migrations.RunPython(refresh, migrations.RunPython.noop)]
