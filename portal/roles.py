"""The staff roles and what each may do, as codenames per app.

Later apps add their intentions here and ship a migration that calls
`sync_roles` again, so the groups stay the single statement of who may do what.
"""

AGENT = [
    "incidents.view_incident",
    "incidents.add_incident",
    "incidents.change_incident",
    "incidents.change_incident_status",
    "incidents.assign_incident",
    "incidents.reopen_incident",
    "incidents.record_first_response",
    "incidents.view_customer",
    "incidents.view_category",
    "incidents.view_signal",
    "incidents.view_policy",
    "incidents.view_timelineevent",
    "comms.view_messagetemplate",
    "comms.view_messagetemplateversion",
    "comms.view_message",
    "comms.send_message",
    "comms.view_reply",
    "comms.add_reply",
    # Everyone reads held reviews; managers hold them.
    "escalations.view_review",
    # Closure checklists
    "incidents.work_checklist",
    "incidents.view_checklisttemplate",
    "incidents.view_incidentchecklist",
    # Credits and refunds: whether someone may decide a given request is the
    # approval limits' business (escalations.ApprovalLimit).
    "escalations.view_creditrequest",
    "escalations.request_credit",
    "escalations.decide_credit",
    "escalations.apply_credit",
    # Post-mortems, communication plans, security response
    "incidents.view_postmortem",
    "incidents.add_postmortem",
    "incidents.change_postmortem",
    "incidents.view_communicationplan",
    "incidents.add_communicationplan",
    "incidents.change_communicationplan",
    "incidents.view_securityresponse",
    "incidents.change_securityresponse",
    "incidents.flag_security_incident",
    "incidents.view_regulatoryregime",
    # Automation: work the unmatched-mail triage list.
    "comms.view_inboundmail",
    "comms.triage_inbound_mail",
    # Escalations: agents escalate and see tiers and queues.
    "escalations.view_escalation",
    "escalations.request_escalation",
    "escalations.view_tier",
    "escalations.view_bugreport",
]
# Senior agents work carrier escalations, which need the old carrier's
# account number in full.
SENIOR_AGENT = [
    *AGENT,
    "incidents.view_full_account_numbers",
    # Escalations: tier members acknowledge, return and resolve.
    "escalations.work_escalation",
]
MANAGER = [
    *SENIOR_AGENT,
    "comms.approve_message",
    # Escalations
    "escalations.approve_escalation",
    "escalations.add_review",
    "escalations.change_review",
    # Credits and refunds: finance's monthly export.
    "escalations.export_credits",
    # Post-mortems, communication plans, security response
    "incidents.publish_postmortem",
    "incidents.approve_communicationplan",
    "incidents.record_legal_approval",
    # Gates the portal's records keep: only a manager settles one by hand,
    # with a reason, and only a manager closes inside the monitoring window.
    "incidents.override_checklist",
    "incidents.close_during_monitoring",
    # Automation: the operations page.
    "comms.view_operations",
]
VP = MANAGER

ROLES = {
    "Agent": AGENT,
    "Senior agent": SENIOR_AGENT,
    "Manager": MANAGER,
    "VP": VP,
}
# Admins get every permission of these apps (and reach the Django admin).
ADMIN_APPS = [
    "incidents",
    "comms",
    "escalations",
    "statuspage",
    "integrations",
    "api",
    "django_q",
]


def sync_roles(apps, schema_editor=None):
    """Create the groups and set their permissions exactly (idempotent)."""
    from django.contrib.auth.management import create_permissions
    from django.db.models import Q

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        # Permissions of apps not migrated yet are skipped here; each app's
        # later migration calls sync_roles again once its models exist.
        wanted = Q()
        for dotted in codenames:
            app_label, codename = dotted.split(".")
            wanted |= Q(content_type__app_label=app_label, codename=codename)
        group.permissions.set(Permission.objects.filter(wanted))
    admin, _ = Group.objects.get_or_create(name="Admin")
    admin.permissions.set(
        Permission.objects.filter(content_type__app_label__in=ADMIN_APPS)
    )
