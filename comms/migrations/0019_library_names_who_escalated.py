"""Untouched default templates read as a colleague would write them.

The escalation alert names who raised the escalation (and the manager who
approved it) instead of whoever pressed the last button, and lists what was
tried; the resolution notes label their metrics so an unknown one reads
"Time to detect: not recorded"; the credit notice no longer calls the
customer's problem by its ticket number.

The same refresh as 0006: templates an admin has edited are left alone.
"""

import importlib

from django.db import migrations

refresh = importlib.import_module(
    "comms.migrations.0006_refresh_default_library"
).refresh


class Migration(migrations.Migration):
    dependencies = [("comms", "0018_credit_cancelled_notice")]

    operations = [migrations.RunPython(refresh, migrations.RunPython.noop)]
