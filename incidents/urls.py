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
]
