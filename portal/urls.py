from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from incidents import views as incident_views

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="incidents:list"), name="home"),
    path("login/", incident_views.SignInView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("me/", incident_views.profile, name="profile"),
    path("incidents/", include("incidents.urls")),
    path("", include("comms.urls")),
    path("admin/", admin.site.urls),
]
