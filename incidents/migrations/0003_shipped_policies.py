"""Ship the playbooks' SLA policies, categories and signals as editable data.

The carrier playbook (seed 000) is the default; the automation agency (001)
and the fleet SaaS (004) are alternatives an admin can assign to customers.
"""

from django.db import migrations

H = 60
DAY = 24 * H

# priority: first response, resolution minutes, resolution business days,
# internal / customer / partner cadence, no-response escalation, manager
# notify, executives told.
POLICIES = {
    "Carrier playbook": {
        "description": "Mobile carrier incident playbook: the portal's default.",
        "is_default": True,
        "targets": {
            "P1": (30, 4 * H, None, 2 * H, 4 * H, 2 * H, 4 * H, None, False),
            "P2": (2 * H, 24 * H, None, 8 * H, 12 * H, 8 * H, 24 * H, None, False),
            "P3": (8 * H, 72 * H, None, 24 * H, 48 * H, 24 * H, 72 * H, None, False),
            "P4": (24 * H, None, 5, 48 * H, 72 * H, 48 * H, 5 * DAY, None, False),
        },
    },
    "Automation agency": {
        "description": "B2B automation agency protocol: faster targets, "
        "executives told of every critical issue.",
        "is_default": False,
        "targets": {
            "P1": (15, 2 * H, None, 30, 30, 30, None, None, True),
            "P2": (1 * H, 8 * H, None, 2 * H, 2 * H, 2 * H, None, 4 * H, False),
            "P3": (4 * H, 72 * H, None, DAY, DAY, DAY, None, 48 * H, False),
            "P4": (24 * H, 7 * DAY, None, None, None, None, None, None, False),
        },
    },
    "Fleet SaaS": {
        "description": "Fleet-management SaaS escalation playbook: hourly "
        "updates on Sev 1, business-day targets for Sev 3 and 4.",
        "is_default": False,
        "targets": {
            "P1": (15, 4 * H, None, 1 * H, 1 * H, 1 * H, None, 0, False),
            "P2": (2 * H, 8 * H, None, 4 * H, 4 * H, 4 * H, None, None, False),
            "P3": (4 * H, None, 3, DAY, DAY, DAY, None, None, False),
            "P4": (8 * H, None, 5, 3 * DAY, 3 * DAY, 3 * DAY, None, None, False),
        },
    },
}

CATEGORIES = ["eSIM", "Port-In", "Payment", "Network", "Account", "Billing"]


def ship(apps, schema_editor):
    BusinessCalendar = apps.get_model("incidents", "BusinessCalendar")
    Policy = apps.get_model("incidents", "Policy")
    PolicyTarget = apps.get_model("incidents", "PolicyTarget")
    Category = apps.get_model("incidents", "Category")
    Signal = apps.get_model("incidents", "Signal")

    calendar, _ = BusinessCalendar.objects.get_or_create(
        name="Monday to Friday (UTC)",
        defaults={"time_zone": "UTC", "working_weekdays": "12345"},
    )
    for name, spec in POLICIES.items():
        policy, created = Policy.objects.get_or_create(
            name=name,
            defaults={
                "description": spec["description"],
                "is_default": spec["is_default"],
                "calendar": calendar,
            },
        )
        if not created:
            continue
        for priority, row in spec["targets"].items():
            (first, res_min, res_days, internal, customer, partner, no_resp,
             manager, executives) = row
            PolicyTarget.objects.create(
                policy=policy,
                priority=priority,
                first_response_minutes=first,
                resolution_minutes=res_min,
                resolution_business_days=res_days,
                internal_update_minutes=internal,
                customer_update_minutes=customer,
                partner_update_minutes=partner,
                no_response_escalation_minutes=no_resp,
                manager_notify_minutes=manager,
                notifies_executives=executives,
            )
    for position, name in enumerate(CATEGORIES):
        Category.objects.get_or_create(
            name=name,
            defaults={"slug": name.lower().replace("-", "_"), "position": position},
        )
    for n in range(1, 11):
        Signal.objects.get_or_create(
            code=f"SIG-{n:03d}",
            defaults={"description": f"Proactive detection signal {n}"},
        )


class Migration(migrations.Migration):
    dependencies = [("incidents", "0002_timeline_append_only")]

    operations = [migrations.RunPython(ship, migrations.RunPython.noop)]
