from django.db import migrations


class Migration(migrations.Migration):
    """The app's starting point; escalations and credits each build on it."""

    initial = True

    dependencies = [("incidents", "0014_timeline_kinds_for_escalation_closure_automation")]

    operations: list = []
