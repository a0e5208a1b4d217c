"""Ship a closure checklist for the fleet SaaS playbook, whose incidents so
far closed with no check unless they had been escalated.

From its resolution notice and continuous-improvement sections: the root
cause and the fix recorded and verified, the customer told (with how to check
it works) and confirming it, prevention and the knowledge base looked after.
Idempotent, like 0016: a template or item already there is left as an admin
may have edited it.
"""

from django.db import migrations

# (group, text, evidence, audience, required)
ITEMS = [
    ("Resolution", "Root cause written on the incident", "root_cause_recorded", "",
     True),
    ("Resolution", "Fix recorded with how it was verified", "resolution_verified",
     "", True),
    ("Resolution", "Customer told it is resolved, the cause and how to check it",
     "resolution_message_sent", "customer", True),
    ("Resolution", "Customer confirmed it works, or the wait passed",
     "customer_confirmed_or_72h", "", True),
    ("Follow-through", "Prevention steps written down, if there are any", "none",
     "", False),
    ("Follow-through", "Knowledge base article written if the issue was new",
     "none", "", True),
    ("Follow-through", "Anything Tier 1 should learn passed to their trainer",
     "none", "", False),
]


def ship(apps, schema_editor):
    Policy = apps.get_model("incidents", "Policy")
    ChecklistTemplate = apps.get_model("incidents", "ChecklistTemplate")
    ChecklistTemplateItem = apps.get_model("incidents", "ChecklistTemplateItem")
    policy = Policy.objects.filter(name="Fleet SaaS").first()
    if policy is None:
        return
    template, _ = ChecklistTemplate.objects.get_or_create(
        name="Resolution check (Fleet SaaS)",
        defaults={
            "policy": policy,
            "condition": "always",
            "attaches_on_resolve": True,
            "position": 10,
            "description": "What is checked and told before a fleet incident "
            "closes.",
        },
    )
    for index, (group, text, evidence, audience, required) in enumerate(
        ITEMS, start=1
    ):
        ChecklistTemplateItem.objects.get_or_create(
            template=template,
            text=text,
            defaults={
                "group": group,
                "condition": "always",
                "evidence": evidence,
                "audience": audience,
                "is_required": required,
                "position": index * 10,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("incidents", "0032_policy_phrases")]

    operations = [migrations.RunPython(ship, migrations.RunPython.noop)]
