"""The Admin group manages status pages, their components, maintenance
windows and subscribers (portal.roles.ADMIN_APPS)."""

from django.db import migrations

from portal.roles import sync_roles


class Migration(migrations.Migration):
    dependencies = [("statuspage", "0002_host_is_a_dns_name")]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
