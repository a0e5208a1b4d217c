"""Shipped rules and checks name their playbook in words.

The escalate page showed "(004 trigger 3)" beside a rule: a number only the
people who wrote the portal could read. Sources an admin has changed are
left as they are.
"""

import re

from django.db import migrations, models

SHORTHANDS = [
    (r"^002 DO (\d+)$", "Carrier escalation guide, when to escalate, item {}"),
    (r"^002 DON'T (\d+)$", "Carrier escalation guide, what not to do, item {}"),
    (r"^004 trigger (\d+)$", "Fleet escalation playbook, trigger {}"),
    (r"^004 before (\d+)$", "Fleet escalation playbook, before escalating, step {}"),
]


def in_words(apps, schema_editor):
    for model_name in ("EscalationRule", "PreEscalationCheck"):
        model = apps.get_model("escalations", model_name)
        for row in model.objects.exclude(source=""):
            for pattern, words in SHORTHANDS:
                match = re.match(pattern, row.source)
                if match:
                    row.source = words.format(match.group(1))
                    row.save(update_fields=["source"])
                    break


class Migration(migrations.Migration):
    dependencies = [("escalations", "0013_help_text_without_playbook_refs")]

    operations = [
        migrations.AlterField(
            model_name="escalationrule",
            name="source",
            field=models.CharField(
                blank=True,
                help_text="Where the rule comes from, in words a colleague can "
                "look up, e.g. “Carrier escalation guide, item 3”.",
                max_length=100,
            ),
        ),
        migrations.RunPython(in_words, migrations.RunPython.noop),
    ]
