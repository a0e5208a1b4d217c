from django.urls import path

from .views import credits

app_name = "escalations"

urlpatterns: list = [
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
]
