"""Follow-ups and escalations to a partner or vendor quote their own ticket
number, and the escalations list our follow-ups and their replies.

The same refresh as 0006: templates an admin has edited are left alone.
"""

import importlib

from django.db import migrations

refresh = importlib.import_module(
    "comms.migrations.0006_refresh_default_library"
).refresh


class Migration(migrations.Migration):
    dependencies = [("comms", "0022_party_ticket_id")]

    operations = [migrations.RunPython(refresh, migrations.RunPython.noop)]
