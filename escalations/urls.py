from django.urls import path

from .views import credits, metrics, routing

app_name = "escalations"

urlpatterns = [
    # Credits and refunds
    path(
        "incidents/<int:pk>/credits/",
        credits.incident_credits,
        name="incident_credits",
    ),
    path("credits/", credits.credit_queue, name="credit_queue"),
    path("credits/export.csv", credits.credit_export, name="credit_export"),
    path(
        "credits/<int:credit_pk>/approve/",
        credits.credit_approve,
        name="credit_approve",
    ),
    path(
        "credits/<int:credit_pk>/reject/", credits.credit_reject, name="credit_reject"
    ),
    path("credits/<int:credit_pk>/apply/", credits.credit_apply, name="credit_apply"),
    path(
        "credits/<int:credit_pk>/cancel/", credits.credit_cancel, name="credit_cancel"
    ),
    # Metrics and reviews
    path("metrics/", metrics.metrics_dashboard, name="metrics"),
    path("metrics/incidents/", metrics.metrics_incidents, name="metrics_incidents"),
    path("metrics/export.csv", metrics.metrics_export, name="metrics_export"),
    path("reviews/", metrics.review_list, name="reviews"),
    path("reviews/new/", metrics.review_new, name="review_new"),
    path("reviews/<int:pk>/", metrics.review_detail, name="review_detail"),
    path(
        "reviews/actions/<int:pk>/done/",
        metrics.review_action_done,
        name="review_action_done",
    ),
    # Escalation routing
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
