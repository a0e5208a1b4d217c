"""Untouched default templates take wording read as their recipients get it.

The check-in and closed-pending notices name the policy's own waits
(auto_close variables) instead of a fixed "3 days" and "7 days"; customer
escalation notices no longer end "update you by ." when a policy updates
as needed, nor quote tier response times another policy does not have;
the partner's management no longer reads our internal narrative; the
vendor escalation no longer claims a contract time passed that may not
have; the urgent chat alert says who is affected and by when; what the portal
sends on its own is signed once, by the team.

The same refresh as 0006: templates an admin has edited are left alone.
"""

import importlib

from django.db import migrations

refresh = importlib.import_module(
    "comms.migrations.0006_refresh_default_library"
).refresh


class Migration(migrations.Migration):
    dependencies = [("comms", "0013_monitoring_signals")]

    operations = [migrations.RunPython(refresh, migrations.RunPython.noop)]
