"""The customer security notice says only what the security response
recorded: what was found (from the kind of incident), and the response steps
ticked done, in a customer's words. It no longer claims law enforcement or an
outside firm were involved, and says so plainly when nothing is done yet.

The same refresh as 0006: templates an admin has edited are left alone.
"""

import importlib

from django.db import migrations

refresh = importlib.import_module(
    "comms.migrations.0006_refresh_default_library"
).refresh


class Migration(migrations.Migration):
    dependencies = [("comms", "0020_urgent_alert_says_why")]

    operations = [migrations.RunPython(refresh, migrations.RunPython.noop)]
