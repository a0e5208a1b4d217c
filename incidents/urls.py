from django.urls import path

from . import views

app_name = "incidents"

urlpatterns = [
    path("", views.incident_list, name="list"),
    path("new/", views.incident_create, name="create"),
    path("<int:pk>/", views.incident_detail, name="detail"),
    path("<int:pk>/edit/", views.incident_edit, name="edit"),
    path("<int:pk>/move/", views.incident_move, name="move"),
    path("<int:pk>/reopen/", views.incident_reopen, name="reopen"),
    path("<int:pk>/assign/", views.incident_assign, name="assign"),
    path("<int:pk>/war-room/", views.incident_war_room, name="war_room"),
    path("<int:pk>/take/", views.incident_take, name="take"),
    path(
        "<int:pk>/first-response/",
        views.incident_first_response,
        name="first_response",
    ),
    path(
        "<int:pk>/affected-customers/",
        views.incident_add_affected,
        name="add_affected",
    ),
    path("<int:pk>/actions/", views.incident_add_action, name="add_action"),
    path(
        "<int:pk>/actions/<int:item_pk>/done/",
        views.action_item_complete,
        name="complete_action",
    ),
    path("customers/search/", views.customer_search, name="customer_search"),
    # Resolve and closure
    path("<int:pk>/closure/", views.incident_closure, name="closure"),
    path("<int:pk>/resolve/", views.incident_resolve, name="resolve"),
    path("<int:pk>/close/", views.incident_close, name="close"),
    path("<int:pk>/recurrence/", views.incident_recurrence, name="recurrence"),
    path(
        "<int:pk>/closure/refresh/",
        views.incident_refresh_checklists,
        name="refresh_checklists",
    ),
    path(
        "<int:pk>/closure/items/<int:item_pk>/tick/",
        views.checklist_item_tick,
        name="checklist_tick",
    ),
    path(
        "<int:pk>/closure/items/<int:item_pk>/not-applicable/",
        views.checklist_item_not_applicable,
        name="checklist_not_applicable",
    ),
    path(
        "<int:pk>/closure/items/<int:item_pk>/reopen/",
        views.checklist_item_reopen,
        name="checklist_reopen",
    ),
    # Post-mortems
    path("postmortems/", views.postmortem_list, name="postmortem_list"),
    path("<int:pk>/postmortem/", views.postmortem_detail, name="postmortem"),
    path("<int:pk>/postmortem/start/", views.postmortem_start, name="postmortem_start"),
    path("<int:pk>/postmortem/edit/", views.postmortem_edit, name="postmortem_edit"),
    path(
        "<int:pk>/postmortem/rows/", views.postmortem_row_add, name="postmortem_row_add"
    ),
    path(
        "<int:pk>/postmortem/rows/<int:row_pk>/",
        views.postmortem_row_edit,
        name="postmortem_row_edit",
    ),
    path(
        "<int:pk>/postmortem/rows/<int:row_pk>/hide/",
        views.postmortem_row_hide,
        name="postmortem_row_hide",
    ),
    path(
        "<int:pk>/postmortem/refresh/",
        views.postmortem_refresh,
        name="postmortem_refresh",
    ),
    path(
        "<int:pk>/postmortem/actions/",
        views.postmortem_action_add,
        name="postmortem_action_add",
    ),
    path(
        "<int:pk>/postmortem/submit/", views.postmortem_submit, name="postmortem_submit"
    ),
    path(
        "<int:pk>/postmortem/return/", views.postmortem_return, name="postmortem_return"
    ),
    path(
        "<int:pk>/postmortem/publish/",
        views.postmortem_publish,
        name="postmortem_publish",
    ),
    path("<int:pk>/postmortem/print/", views.postmortem_print, name="postmortem_print"),
    # Communication plans; started from comms:plan_start
    path("<int:pk>/plan/", views.communication_plan, name="plan"),
    path("<int:pk>/plan/edit/", views.communication_plan_edit, name="plan_edit"),
    path(
        "<int:pk>/plan/sections/<int:section_pk>/rows/",
        views.communication_plan_row_add,
        name="plan_row_add",
    ),
    path(
        "<int:pk>/plan/sections/<int:section_pk>/notes/",
        views.communication_plan_notes,
        name="plan_notes",
    ),
    path(
        "<int:pk>/plan/rows/<int:row_pk>/",
        views.communication_plan_row_edit,
        name="plan_row_edit",
    ),
    path("<int:pk>/plan/submit/", views.communication_plan_submit, name="plan_submit"),
    path(
        "<int:pk>/plan/approve/", views.communication_plan_approve, name="plan_approve"
    ),
    path("<int:pk>/plan/return/", views.communication_plan_return, name="plan_return"),
    # Security incident response
    path("<int:pk>/security/", views.security_response, name="security"),
    path("<int:pk>/security/flag/", views.security_flag, name="security_flag"),
    path("<int:pk>/security/report/", views.security_report, name="security_report"),
    path(
        "<int:pk>/security/notify/<int:notification_pk>/",
        views.security_notify,
        name="security_notify",
    ),
    path(
        "<int:pk>/security/items/<int:item_pk>/",
        views.security_tick,
        name="security_tick",
    ),
    path(
        "<int:pk>/security/phases/<int:phase_pk>/done/",
        views.security_phase_done,
        name="security_phase_done",
    ),
    path("<int:pk>/security/clocks/", views.security_clocks, name="security_clocks"),
    path(
        "<int:pk>/security/clocks/<int:clock_pk>/filed/",
        views.security_notice_filed,
        name="security_notice_filed",
    ),
    path(
        "<int:pk>/security/legal/",
        views.security_legal_approval,
        name="security_legal",
    ),
    path(
        "<int:pk>/security/lessons/",
        views.security_lessons_learned,
        name="security_lessons",
    ),
]
