"""Add the customer's credit-approved message to the library (issue 12).

The refresh is the one of 0006: new library entries are added, untouched
defaults take the current wording, templates an admin edited stay as they
are. Its situation keeps it out of every other pick of a template.
"""

import importlib

from django.db import migrations, models


def refresh(apps, schema_editor):
    importlib.import_module("comms.migrations.0006_refresh_default_library").refresh(
        apps, schema_editor
    )


class Migration(migrations.Migration):
    dependencies = [("comms", "0006_refresh_default_library")]

    operations = [
        migrations.AlterField(
            model_name="messagetemplate",
            name="situation",
            field=models.CharField(
                blank=True,
                choices=[
                    ("", "Any"),
                    ("proactive", "Detected before the customer noticed"),
                    ("multiple_contacts", "After multiple customer contacts"),
                    ("outage_restored", "Outage restored"),
                    ("waiting_external", "Waiting on a partner or vendor"),
                    ("no_customer_reply", "Customer has not replied"),
                    ("systemic", "Systemic incident"),
                    ("customer_confirmed", "Customer confirmed the fix"),
                    ("resolved_no_reply", "Resolved, no reply"),
                    ("waiting_on_customer", "Waiting on the customer"),
                    ("to_l2", "Escalated to L2"),
                    ("to_engineering", "Escalated to engineering"),
                    ("to_trust_safety", "Escalated to trust & safety"),
                    ("to_carrier", "Escalated to the carrier"),
                    ("to_manager", "Escalated to a manager"),
                    ("to_executive", "Escalated to an executive"),
                    ("urgent", "Urgent, many customers"),
                    ("escalation_sla_missed", "Escalated team missed its SLA"),
                    ("credit_approved", "A credit or refund was approved"),
                ],
                default="",
                max_length=40,
            ),
        ),
        migrations.RunPython(refresh, migrations.RunPython.noop),
    ]
