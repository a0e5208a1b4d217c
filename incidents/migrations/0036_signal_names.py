"""Name the ten shipped signals by what each watches for.

Seed 000 numbers the proactive signals SIG-001 to SIG-010 without saying what
they detect, so the first catalogue shipped placeholders ("Proactive detection
signal 1"), which told an agent nothing on a card or a subject line. These are
our names for a mobile carrier's usual alarms; a description an admin has
already changed is left as it is.
"""

from django.db import migrations

NAMES = {
    "SIG-001": "Roaming calls or data failing in a country",
    "SIG-002": "Data sessions dropping around a cell site",
    "SIG-003": "eSIM profiles stuck in provisioning",
    "SIG-004": "Port-in requests rejected by the losing carrier",
    "SIG-005": "Card payments declining at checkout",
    "SIG-006": "Customers unable to sign in to their account",
    "SIG-007": "Bills issued with wrong amounts",
    "SIG-008": "Text messages delayed or not delivered",
    "SIG-009": "Automatic payments failing",
    "SIG-010": "Number transfers stuck as pending",
}


def name_signals(apps, schema_editor):
    Signal = apps.get_model("incidents", "Signal")
    for code, name in NAMES.items():
        number = int(code.removeprefix("SIG-"))
        Signal.objects.filter(
            code=code, description=f"Proactive detection signal {number}"
        ).update(description=name)


class Migration(migrations.Migration):
    dependencies = [("incidents", "0035_war_room")]

    operations = [migrations.RunPython(name_signals, migrations.RunPython.noop)]
