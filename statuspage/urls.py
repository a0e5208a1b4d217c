from django.urls import path

from .views import public, staff, subscribers

app_name = "statuspage"

urlpatterns = [
    # --- Public: served without sign-in (views/public.py) ----------------
    path("status/<slug:slug>/", public.status_page, name="page"),
    path("status/<slug:slug>/status.json", public.status_json, name="json"),
    path("status/<slug:slug>/feed.rss", public.RssFeed(), name="rss"),
    path("status/<slug:slug>/feed.atom", public.AtomFeed(), name="atom"),
    path(
        "status/<slug:slug>/incidents/<int:pk>/",
        public.publication_detail,
        name="publication",
    ),
    # --- Public: subscribers (views/subscribers.py) ---------------------
    path("status/<slug:slug>/subscribe/", subscribers.subscribe, name="subscribe"),
    path(
        "status/<slug:slug>/confirm/<str:token>/",
        subscribers.confirm,
        name="confirm",
    ),
    path(
        "status/<slug:slug>/unsubscribe/<str:token>/",
        subscribers.unsubscribe,
        name="unsubscribe",
    ),
    # --- Staff: publishing from an incident (views/staff.py) ------------
    path(
        "incidents/<int:pk>/status-page/",
        staff.publish,
        name="publish",
    ),
]
