"""Ship the carrier playbook's chat routing (000 2B) and delivery rules."""

from django.db import migrations

# (priority, systemic, category slug, channel, ping)
ROUTES = [
    ("P1", False, None, "#cs-urgent", "@channel"),
    ("", True, None, "#incidents", "@engineering @cs-leads"),
    ("", False, "esim", "#esim-support", "@esim-specialists"),
    ("", False, "port_in", "#portin-support", "@port-team"),
    ("", False, "payment", "#billing-support", "@billing-team"),
    ("", False, "network", "#network-ops", "@network-team"),
    ("", False, None, "#support", "@cs-leads"),
]
# Customer-facing messages on P1 and systemic incidents need a manager's
# approval before they leave (003's approval flow for external updates).
RULES = [
    ("customer", "P1", False, "approval"),
    ("customer", "", True, "approval"),
]


def ship(apps, schema_editor):
    ChatRoute = apps.get_model("comms", "ChatRoute")
    DeliveryRule = apps.get_model("comms", "DeliveryRule")
    Category = apps.get_model("incidents", "Category")
    if not ChatRoute.objects.exists():
        for priority, systemic, slug, channel, ping in ROUTES:
            ChatRoute.objects.create(
                priority=priority,
                is_systemic=systemic,
                category=Category.objects.filter(slug=slug).first() if slug else None,
                channel_name=channel,
                ping=ping,
            )
    if not DeliveryRule.objects.exists():
        for audience, priority, systemic, mode in RULES:
            DeliveryRule.objects.create(
                audience=audience, priority=priority, is_systemic=systemic, mode=mode
            )


class Migration(migrations.Migration):
    dependencies = [
        ("comms", "0003_messages_and_delivery"),
        ("incidents", "0003_shipped_policies"),
    ]

    operations = [migrations.RunPython(ship, migrations.RunPython.noop)]
