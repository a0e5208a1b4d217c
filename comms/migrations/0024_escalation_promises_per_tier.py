"""Escalation e-mails make the tier's own promise (an L2 customer hears back
within 24 hours, a carrier case gets a daily check-in), tell the customer
they need not repeat themselves, and the engineering one sets the usual
48 to 72 hours.

The same refresh as 0006: templates an admin has edited are left alone.
"""

import importlib

from django.db import migrations

refresh = importlib.import_module(
    "comms.migrations.0006_refresh_default_library"
).refresh


class Migration(migrations.Migration):
    dependencies = [("comms", "0023_party_ticket_in_the_library")]

    operations = [migrations.RunPython(refresh, migrations.RunPython.noop)]
