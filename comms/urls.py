from django.urls import path

from . import views

app_name = "comms"

urlpatterns = [
    path(
        "incidents/<int:pk>/messages/",
        views.incident_messages,
        name="incident_messages",
    ),
    path("incidents/<int:pk>/compose/", views.compose, name="compose"),
    path("incidents/<int:pk>/replies/", views.reply_log, name="log_reply"),
    path("messages/approvals/", views.approval_queue, name="approvals"),
    path("messages/<int:message_pk>/retry/", views.message_retry, name="retry"),
    path(
        "messages/<int:message_pk>/send/", views.message_send_draft, name="send_draft"
    ),
    path("messages/<int:message_pk>/cancel/", views.message_cancel, name="cancel"),
    path("messages/<int:message_pk>/rework/", views.message_rework, name="rework"),
    path("messages/<int:message_pk>/hold/", views.message_hold, name="hold"),
    path("loops/<int:loop_pk>/ticket/", views.loop_ticket, name="loop_ticket"),
    path(
        "messages/<int:message_pk>/send-now/", views.message_send_now, name="send_now"
    ),
    path("messages/<int:message_pk>/approve/", views.message_approve, name="approve"),
    path("messages/<int:message_pk>/reject/", views.message_reject, name="reject"),
    # Communication plans
    path(
        "incidents/<int:pk>/plan/start/",
        views.communication_plan_start,
        name="plan_start",
    ),
    # Automation: replies by e-mail.
    path("inbound/mail/", views.inbound_mail_webhook, name="inbound_mail_webhook"),
    path("mail/unmatched/", views.inbound_mail_triage, name="inbound_mail"),
    path("mail/<int:mail_pk>/attach/", views.inbound_mail_attach, name="attach_mail"),
    path(
        "mail/<int:mail_pk>/dismiss/", views.inbound_mail_dismiss, name="dismiss_mail"
    ),
    path("replies/<int:reply_pk>/confirm/", views.reply_confirm, name="confirm_reply"),
    # Automation: monitoring signals.
    path("api/signals/", views.signal_receive, name="signal_api"),
    path("api/signals/<int:receipt_pk>/", views.signal_status, name="signal_status"),
    path("operations/", views.operations, name="operations"),
]
