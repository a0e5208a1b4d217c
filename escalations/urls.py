from django.urls import path

from .views import metrics

app_name = "escalations"

urlpatterns = [
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
