"""Ship the monitoring windows, archive delay and checklists as editable data.

- Monitoring window before closing, per policy and priority: the carrier
  playbook (000) watches 48 h after P1/P2 and 24 h after P3/P4; the
  automation agency (001) watches 24 h; the fleet SaaS playbook (004) names
  no window, so it gets 24 h like the others' shorter one.
- Archive delay: no seed gives a number (000 only says closed incidents are
  archived); 30 days for every policy.
- Checklists: 000's closure checklist (18 items in 5 groups) for the carrier
  playbook; 001's resolution verification (5) and post-resolution follow-up
  (4) for the automation agency; 004's escalation checklist (before, when,
  after) for escalated incidents under the fleet SaaS playbook.

Idempotent: a template or item already there (by name, by text) is left as
an admin may have edited it.
"""

from django.db import migrations

from portal.roles import sync_roles

H = 60
WINDOWS = {
    "Carrier playbook": {"P1": 48 * H, "P2": 48 * H, "P3": 24 * H, "P4": 24 * H},
    "Automation agency": {p: 24 * H for p in ("P1", "P2", "P3", "P4")},
    "Fleet SaaS": {p: 24 * H for p in ("P1", "P2", "P3", "P4")},
}

# (group, text, condition, evidence, audience)
CARRIER_CLOSURE = [
    ("Resolution verified", "Root cause identified and documented", "always",
     "root_cause_recorded", ""),
    ("Resolution verified", "Fix applied and confirmed working", "always",
     "resolution_verified", ""),
    ("Resolution verified", "System status verified (eSIM active, port complete, "
     "payment processed, …)", "always", "none", ""),
    ("Resolution verified", "No recurrence during the monitoring window", "always",
     "monitoring_window_passed", ""),
    ("Stakeholders notified", "Customer told it is resolved (e-mail or SMS)",
     "always", "resolution_message_sent", "customer"),
    ("Stakeholders notified", "Customer confirmed it works, or 72 h passed "
     "without a reply", "always", "customer_confirmed_or_72h", ""),
    ("Stakeholders notified", "Internal team updated (resolution posted in chat)",
     "always", "resolution_message_sent", "internal"),
    ("Stakeholders notified", "Partner told and confirmed the closure",
     "partner_involved", "party_confirmed", "partner"),
    ("Stakeholders notified", "Vendor told and confirmed the closure",
     "vendor_involved", "party_confirmed", "vendor"),
    ("Financials", "Billing adjustments applied", "financial_impact", "none", ""),
    ("Financials", "Credits and refunds processed", "credit_requested",
     "credits_settled", ""),
    ("Financials", "No financial discrepancy left open", "always", "none", ""),
    ("Documentation", "Internal resolution note added", "always",
     "internal_note_posted", ""),
    ("Documentation", "Tags updated (resolved added, in_progress removed)",
     "always", "tags_updated", ""),
    ("Documentation", "Post-mortem scheduled", "major", "postmortem_scheduled", ""),
    ("Documentation", "Knowledge base updated for a new issue or fix", "always",
     "none", ""),
    ("Follow-up", "48-hour post-resolution check scheduled", "always",
     "monitoring_check_scheduled", ""),
    ("Follow-up", "Preventive action items logged", "always", "none", ""),
]

AGENCY_VERIFICATION = [
    ("Verification", text, "always", "none", "")
    for text in (
        "System functionality restored",
        "Performance metrics back to normal",
        "Data integrity verified",
        "All automated processes running",
        "User access confirmed",
    )
]
AGENCY_FOLLOW_UP = [
    ("Post-resolution", "System performance watched for 24 hours after the fix",
     "always", "monitoring_window_passed", ""),
    ("Post-resolution", "Feedback collected from the client's users", "always",
     "none", ""),
    ("Post-resolution", "Process verification and testing completed", "always",
     "none", ""),
    ("Post-resolution", "Documentation and knowledge base entries updated",
     "always", "none", ""),
]

FLEET_ESCALATION = [
    *(("Before escalating", text, "always", "none", "") for text in (
        "Tried every troubleshooting step that fits",
        "Documented the issue thoroughly",
        "Collected logs and screenshots",
        "Verified the reproduction steps",
        "Checked the knowledge base for a solution",
        "Confirmed the escalation criteria are met",
    )),
    ("When escalating", "Escalation ticket written in full", "always", "none", ""),
    ("When escalating", "Assigned to the right tier or team", "always", "none", ""),
    ("When escalating", "Customer told of the escalation", "always",
     "escalation_notice_sent", ""),
    ("When escalating", "Follow-up reminder set", "always", "none", ""),
    ("When escalating", "If urgent, alerted by chat or phone", "always", "none", ""),
    ("When escalating", "Relevant stakeholders copied", "always", "none", ""),
    ("After escalating", "Ticket progress monitored", "always", "none", ""),
    ("After escalating", "Customer updated as the SLA requires", "always", "none",
     ""),
    ("After escalating", "Next tier helped with information as needed", "always",
     "none", ""),
    ("After escalating", "Resolution documented once complete", "always",
     "internal_note_posted", ""),
    ("After escalating", "Followed up with the customer on satisfaction", "always",
     "customer_confirmed_or_72h", ""),
    ("After escalating", "Knowledge base updated if the issue was new", "always",
     "none", ""),
]

# name: (policy, condition, attaches on resolve, position, description, items)
TEMPLATES = {
    "Closure checklist": (
        "Carrier playbook", "always", True, 10,
        "Everything to verify before an incident is closed (000 part 6).",
        CARRIER_CLOSURE,
    ),
    "Resolution verification": (
        "Automation agency", "always", True, 10,
        "What must be checked before the client is told it is fully resolved.",
        AGENCY_VERIFICATION,
    ),
    "Post-resolution follow-up": (
        "Automation agency", "always", True, 20,
        "The day-after checks that follow a resolution.",
        AGENCY_FOLLOW_UP,
    ),
    "Escalation checklist": (
        "Fleet SaaS", "escalated", False, 30,
        "Before, when and after escalating a ticket.",
        FLEET_ESCALATION,
    ),
}


def ship(apps, schema_editor):
    Policy = apps.get_model("incidents", "Policy")
    PolicyTarget = apps.get_model("incidents", "PolicyTarget")
    ChecklistTemplate = apps.get_model("incidents", "ChecklistTemplate")
    ChecklistTemplateItem = apps.get_model("incidents", "ChecklistTemplateItem")

    for policy_name, windows in WINDOWS.items():
        for priority, minutes in windows.items():
            # Only targets still at the field's default: an admin's edit stays.
            PolicyTarget.objects.filter(
                policy__name=policy_name,
                priority=priority,
                monitoring_window_minutes=24 * H,
            ).update(monitoring_window_minutes=minutes)

    for name, (policy_name, condition, on_resolve, position, description,
               items) in TEMPLATES.items():
        policy = Policy.objects.filter(name=policy_name).first()
        if policy is None:
            continue
        template, _ = ChecklistTemplate.objects.get_or_create(
            name=name,
            defaults={
                "policy": policy,
                "condition": condition,
                "attaches_on_resolve": on_resolve,
                "position": position,
                "description": description,
            },
        )
        for index, (group, text, item_condition, evidence, audience) in enumerate(
            items, start=1
        ):
            ChecklistTemplateItem.objects.get_or_create(
                template=template,
                text=text,
                defaults={
                    "group": group,
                    "condition": item_condition,
                    "evidence": evidence,
                    "audience": audience,
                    "position": index * 10,
                },
            )


class Migration(migrations.Migration):
    dependencies = [("incidents", "0015_closure_checklists_monitoring_archive")]

    operations = [
        migrations.RunPython(ship, migrations.RunPython.noop),
        migrations.RunPython(sync_roles, migrations.RunPython.noop),
    ]
