from django.db import migrations

from portal.roles import sync_roles


class Migration(migrations.Migration):
    """Give the roles their permissions on the template library too."""

    dependencies = [
        ("portal", "0001_roles"),
        ("comms", "0004_routes_and_rules"),
    ]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
