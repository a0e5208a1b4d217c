from django.urls import path

from .views import credits, metrics

app_name = "escalations"

urlpatterns = [
    # Credits and refunds (issue 12)
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
    # Metrics and reviews (issue 15)
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
]
