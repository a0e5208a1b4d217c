from django.db import migrations

from portal.roles import sync_roles


class Migration(migrations.Migration):
    """Let senior agents and up see old-carrier account numbers in full."""

    dependencies = [
        ("portal", "0003_sweep_schedule"),
        ("incidents", "0011_customer_record"),
    ]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
