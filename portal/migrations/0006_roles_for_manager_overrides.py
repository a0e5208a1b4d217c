from django.db import migrations

from portal.roles import sync_roles


class Migration(migrations.Migration):
    """Give managers the checklist override and the early close."""

    dependencies = [
        ("portal", "0005_form_submissions"),
        ("incidents", "0027_manager_overrides"),
    ]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
