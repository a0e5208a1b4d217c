from django.urls import path

from .views import routing

app_name = "escalations"

urlpatterns = [
    # Escalation routing (issue 11)
    path(
        "incidents/<int:pk>/escalations/",
        routing.incident_escalations,
        name="incident_escalations",
    ),
    path("incidents/<int:pk>/escalate/", routing.escalate, name="escalate"),
    path("escalations/tiers/", routing.tier_list, name="tiers"),
    path("escalations/tiers/<int:pk>/", routing.tier_queue, name="tier_queue"),
    path("escalations/approvals/", routing.approvals, name="approvals"),
    path(
        "escalations/<int:pk>/acknowledge/",
        routing.escalation_acknowledge,
        name="acknowledge",
    ),
    path("escalations/<int:pk>/return/", routing.escalation_return, name="return"),
    path("escalations/<int:pk>/resolve/", routing.escalation_resolve, name="resolve"),
    path("escalations/<int:pk>/approve/", routing.escalation_approve, name="approve"),
    path("escalations/<int:pk>/reject/", routing.escalation_reject, name="reject"),
    path(
        "escalations/bug-reports/<int:pk>/tracker-key/",
        routing.bug_report_tracker_key,
        name="tracker_key",
    ),
]
