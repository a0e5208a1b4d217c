"""Ship 002's tiers, DO rules and DON'T checks for the carrier policy, and
004's tiers, automatic triggers and before-escalating checks for the fleet
policy, as editable data; then give the roles their escalation permissions.

Where the seeds disagree, each policy keeps its own seed's numbers (noted in
the tiers' help text). Idempotent: rows are found by policy and key.
"""

from decimal import Decimal

from django.db import migrations

from portal.roles import sync_roles

H = 60
CARRIER, FLEET = "Carrier playbook", "Fleet SaaS"
PACIFIC = "America/Los_Angeles"

# key, name, position, handles, target, target note, reminder, tag, path,
# member group, extra fields
TIERS = {
    CARRIER: [
        ("l0", "L0 · Help bot", 0, "FAQs, simple lookups, routine requests",
         0, "Instant", None, "", "", None, {}),
        ("l1", "L1 · Support agents", 1, "Standard troubleshooting, most issues",
         4 * H, "", None, "", "", "Agent", {}),
        ("l2", "L2 · Senior support", 2, "Complex issues, account exceptions, "
         "refunds over $100, stuck customers", 24 * H, "", 24 * H,
         "escalated_l2", "l2", "Senior agent", {}),
        ("engineering", "Engineering · Backend", 3,
         "System bugs, provisioning failures", 48 * H,
         "Under 48 h; path 2 tells customers 48-72 h (002 disagrees with "
         "itself; the tier table wins).", 48 * H, "escalated_engineering",
         "engineering", None, {}),
        ("trust_safety", "Trust & Safety", 4, "Fraud, AUP, security",
         24 * H, "Under 24 h; the review takes 24-48 h.", None, "escalated_ts",
         "trust_safety", None, {}),
        ("carrier", "Carrier · ConnectX / AT&T", 5,
         "Network issues, port-in escalations", 72 * H,
         "24-72 h; customers are told 2-3 business days.", 72 * H,
         "escalated_carrier", "carrier", None, {}),
        ("legal", "Legal", 6, "Legal and compliance requests, legal threats",
         None, "", None, "", "management", None, {}),
        ("management", "Management", 7, "Urgent and critical escalations",
         None, "", None, "", "management", "Manager",
         {"chat_channel": "#cs-urgent"}),
    ],
    FLEET: [
        ("tier1", "Tier 1 · Frontline support", 0,
         "First contact, troubleshooting, known issues", 4 * H,
         "E-mail 4 h, phone 2 min, chat 5 min; 24/7.", None, "", "",
         "Agent", {}),
        ("tier2", "Tier 2 · Technical support", 1,
         "Advanced troubleshooting, logs, API and account investigation",
         1 * H, "Escalated tickets 1 h, direct contact 2 h; customers are "
         "promised 2 h (004 disagrees with itself).", 1 * H, "escalated_l2",
         "tier1_to_tier2", "Senior agent",
         {"working_hours": "Mon-Fri 06:00-20:00, Sat 08:00-17:00",
          "time_zone": PACIFIC, "has_on_call": True,
          "on_call_top_priority_only": True,
          "chat_channel": "#fleet-support-tier2"}),
        ("tier3", "Tier 3 · Engineering", 2,
         "Code fixes, backend and database work, performance", 24 * H,
         "Critical bugs 1 h, non-critical 24 h, feature requests 1 week.",
         None, "escalated_engineering", "tier2_to_tier3", None,
         {"working_hours": "Mon-Fri 09:00-17:00", "time_zone": PACIFIC,
          "has_on_call": True, "on_call_top_priority_only": True,
          "on_call_contact": "PagerDuty", "chat_channel": "#fleet-engineering"}),
        ("management", "Management · Support manager", 3,
         "SLA breaches, churn threats, refunds, contract exceptions", 30,
         "Churn threats 30 min; SLA breaches at once.", None, "",
         "management", "Manager", {}),
        ("customer_success", "Customer success", 4,
         "VIP and enterprise relationships, churn threats", 30, "", None, "",
         "management", None, {}),
        ("security", "Security team", 5,
         "Suspected breaches, account compromise, vulnerabilities", 15,
         "Identify within 15 min, contain within 1 h.", None, "escalated_ts",
         "trust_safety", None, {"has_on_call": True}),
    ],
}

# key, name, source, condition fields, target tier keys, next tier, approval,
# urgency, respond within, automatic
RULES = {
    CARRIER: [
        ("troubleshooting-exhausted", "Still failing after every troubleshooting "
         "step", "002 DO 1", {"flag": "troubleshooting_exhausted"}, ["l2"],
         False, False, "medium", None, False),
        ("stuck-72h", "Customer stuck more than 72 hours", "002 DO 2",
         {"open_over_minutes": 72 * H}, ["l2"], False, False, "high", None,
         False),
        ("bug-identified", "A system error or bug is identified", "002 DO 3",
         {"flag": "bug_identified"}, ["engineering"], False, False, "medium",
         None, False),
        ("refund-over-100", "Refund above $100", "002 DO 4",
         {"refund_over": Decimal("100.00")}, ["l2"], False, True, "medium",
         None, False),
        ("suspension-appeal", "Account suspension appeal", "002 DO 5",
         {"flag": "suspension_appeal"}, ["trust_safety"], False, False,
         "medium", None, False),
        ("fraud-suspected", "Fraud suspected", "002 DO 6",
         {"flag": "fraud_suspected"}, ["trust_safety"], False, False, "high",
         None, False),
        ("network-outage", "Network outage hitting several customers",
         "002 DO 7", {"category": "network", "min_customers_affected": 2},
         ["engineering", "carrier"], False, False, "high", None, False),
        ("port-in-rejected-3", "Port-in rejected three times or more",
         "002 DO 8", {"flag": "port_in_rejected", "min_port_in_rejections": 3},
         ["carrier"], False, False, "medium", None, False),
        ("legal-request", "Legal or compliance request", "002 DO 9",
         {"flag": "legal_request"}, ["legal"], False, False, "medium", None,
         False),
        ("vip", "VIP or influencer customer", "002 DO 10",
         {"customer_flag": "vip"}, ["l2"], False, False, "medium", None, False),
        ("legal-threat", "Customer threatens legal action", "002 DO 11",
         {"flag": "legal_threat"}, ["l2", "legal"], False, False, "high", None,
         False),
        ("security-incident", "Data breach or security incident", "002 DO 12",
         {"flag": "security_suspected"}, ["trust_safety"], False, False,
         "critical", 0, False),
    ],
    FLEET: [
        ("tier1-over-4h", "Open more than 4 hours at Tier 1", "004 trigger 1",
         {"at_tier": "tier1", "open_over_minutes": 4 * H}, ["tier2"], False,
         False, "high", 0, True),
        ("tier2-over-8h", "Open more than 8 hours at Tier 2", "004 trigger 2",
         {"at_tier": "tier2", "open_over_minutes": 8 * H}, ["tier3"], False,
         False, "high", 0, True),
        ("sev1", "Severity 1 (critical)", "004 trigger 3", {"priority": "P1"},
         ["tier2", "tier3", "management"], False, False, "critical", 0, True),
        ("security-suspected", "Security incident suspected", "004 trigger 4",
         {"flag": "security_suspected"}, ["security", "tier3"], False, False,
         "critical", 0, False),
        ("multiple-customers", "Several customers report the same issue",
         "004 trigger 5", {"min_customers_affected": 2}, ["tier2", "tier3"],
         False, False, "high", 60, True),
        ("vip-enterprise", "VIP or enterprise customer", "004 trigger 6",
         {"customer_flag": "vip_or_enterprise"}, ["tier2", "customer_success"],
         False, False, "medium", 0, True),
        ("customer-asked", "Customer asks for escalation", "004 trigger 7",
         {"flag": "customer_asked"}, ["management"], True, False, "high", 30,
         False),
        ("sla-breach-imminent", "SLA breach imminent", "004 trigger 8",
         {"sla_breach_within_minutes": 2 * H}, ["management"], True, False,
         "high", 0, True),
    ],
}

CHECKS = {
    CARRIER: [
        ("I have tried every troubleshooting step that applies.", "002 DON'T 1"),
        ("The customer asked for a manager and I offered a solution first.",
         "002 DON'T 2"),
        ("The tools I have cannot resolve it.", "002 DON'T 3"),
        ("I already asked the customer for the information we need.",
         "002 DON'T 4"),
        ("It is not a known issue with a documented workaround.", "002 DON'T 5"),
    ],
    FLEET: [
        ("I attempted every appropriate troubleshooting step.", "004 before 1"),
        ("The issue is documented thoroughly.", "004 before 2"),
        ("Logs and screenshots are collected.", "004 before 3"),
        ("The reproduction steps are verified.", "004 before 4"),
        ("I checked the knowledge base for a solution.", "004 before 5"),
        ("The escalation criteria are met.", "004 before 6"),
    ],
}


def ship(apps, schema_editor):
    Policy = apps.get_model("incidents", "Policy")
    Category = apps.get_model("incidents", "Category")
    Group = apps.get_model("auth", "Group")
    Tier = apps.get_model("escalations", "Tier")
    EscalationRule = apps.get_model("escalations", "EscalationRule")
    PreEscalationCheck = apps.get_model("escalations", "PreEscalationCheck")
    sync_roles(apps, schema_editor)  # the groups must exist to be members

    for policy_name, tiers in TIERS.items():
        policy = Policy.objects.filter(name=policy_name).first()
        if policy is None:
            continue
        for (key, name, position, handles, target, note, reminder, tag, path,
             group, extra) in tiers:
            tier, created = Tier.objects.get_or_create(
                policy=policy,
                key=key,
                defaults={
                    "name": name,
                    "position": position,
                    "handles": handles,
                    "response_target_minutes": target,
                    "response_target_note": note,
                    "reminder_minutes": reminder,
                    "tag": tag,
                    "default_path": path,
                    **extra,
                },
            )
            if created and group:
                tier.member_groups.add(Group.objects.get(name=group))
        by_key = {t.key: t for t in Tier.objects.filter(policy=policy)}
        for position, (key, name, source, condition, targets, next_tier,
                       approval, urgency, within, automatic) in enumerate(
            RULES[policy_name]
        ):
            fields = dict(condition)
            if "category" in fields:
                fields["category"] = Category.objects.filter(
                    slug=fields["category"]
                ).first()
            if "at_tier" in fields:
                fields["at_tier"] = by_key[fields["at_tier"]]
            rule, created = EscalationRule.objects.get_or_create(
                policy=policy,
                key=key,
                defaults={
                    "name": name,
                    "source": source,
                    "position": position,
                    "targets_next_tier": next_tier,
                    "needs_approval": approval,
                    "urgency": urgency,
                    "respond_within_minutes": within,
                    "is_time_based": automatic,
                    **fields,
                },
            )
            if created:
                rule.target_tiers.set([by_key[k] for k in targets])
        for position, (text, source) in enumerate(CHECKS[policy_name]):
            PreEscalationCheck.objects.get_or_create(
                policy=policy,
                text=text,
                defaults={"source": source, "position": position},
            )


class Migration(migrations.Migration):
    dependencies = [("escalations", "0005_tiers_rules_and_escalations")]

    operations = [
        migrations.RunPython(ship, migrations.RunPython.noop),
        migrations.RunPython(sync_roles, migrations.RunPython.noop),
    ]
