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
    # Resolve and closure (issue 13, part A)
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
]
