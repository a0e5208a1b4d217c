"""The Admin group issues and revokes API tokens (portal.roles.ADMIN_APPS)."""

from django.db import migrations

from portal.roles import sync_roles


class Migration(migrations.Migration):
    dependencies = [("api", "0001_initial")]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
