"""Untouched default templates speak as whoever sends them.

What the portal sends on its own (follow-ups, escalation notices, check-ins)
is signed by the team, yet several templates said "I": "I'm taking personal
ownership", signed by nobody. They now say "we", or "I" only when a person
sends; the multiple-contacts apology no longer promises a goodwill gesture
nobody granted.

The same refresh as 0006: templates an admin has edited are left alone.
"""

import importlib

from django.db import migrations

refresh = importlib.import_module(
    "comms.migrations.0006_refresh_default_library"
).refresh


class Migration(migrations.Migration):
    dependencies = [("comms", "0015_signal_queue")]

    operations = [migrations.RunPython(refresh, migrations.RunPython.noop)]
