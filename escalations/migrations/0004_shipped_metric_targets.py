"""The targets seeds 001 and 004 set, on the policies built from them.

The carrier playbook (000) names figures but no targets, so it ships none;
an admin adds them per policy.
"""

from django.db import migrations

from portal.roles import sync_roles

TARGETS = {
    "Automation agency": [
        ("first_response_compliance", "P1", "100", "001: Critical within 15 min"),
        ("first_response_compliance", "P2", "95", "001: High within 1 h"),
        ("first_response_compliance", "P3", "90", "001: Medium within 4 h"),
        ("first_response_compliance", "P4", "85", "001: Low within 24 h"),
        ("resolution_compliance", "P1", "95", "001: Critical within 2 h"),
        ("resolution_compliance", "P2", "90", "001: High within 8 h"),
        ("resolution_compliance", "P3", "85", "001: Medium within 72 h"),
        ("resolution_compliance", "P4", "80", "001: Low within 1 week"),
    ],
    "Fleet SaaS": [
        ("sla_compliance", "", "95", "004: over 95% resolved within SLA"),
        ("csat", "", "4.5", "004: over 4.5 of 5"),
        ("escalation_rate", "", "20", "004: under 20% from Tier 1 to Tier 2"),
        ("first_contact_resolution", "", "70", "004: over 70% without escalation"),
        ("tier1_resolution_rate", "", "80", "004: over 80% resolved at Tier 1"),
    ],
}


def ship(apps, schema_editor):
    Policy = apps.get_model("incidents", "Policy")
    MetricTarget = apps.get_model("escalations", "MetricTarget")
    for name, rows in TARGETS.items():
        policy = Policy.objects.filter(name=name).first()
        if policy is None:
            continue
        for figure, priority, target, note in rows:
            MetricTarget.objects.get_or_create(
                policy=policy,
                figure=figure,
                priority=priority,
                defaults={"target": target, "note": note},
            )


class Migration(migrations.Migration):
    dependencies = [
        ("escalations", "0003_metric_targets_and_reviews"),
        ("incidents", "0003_shipped_policies"),
    ]

    operations = [
        migrations.RunPython(ship, migrations.RunPython.noop),
        migrations.RunPython(sync_roles, migrations.RunPython.noop),
    ]
