from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from api.views import api
from incidents import views as incident_views

from . import views

urlpatterns = [
    path("", views.my_work, name="home"),
    path("login/", incident_views.SignInView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Single sign-on (OpenID Connect): the redirect out and the callback.
    path("oidc/", include("portal.sso")),
    path("me/", incident_views.profile, name="profile"),
    # Customers reach this one page from the resolution e-mail; a proxy can
    # expose /survey/ alone.
    path("survey/<str:token>/", incident_views.survey_answer, name="survey"),
    path("incidents/", include("incidents.urls")),
    path("", include("comms.urls")),
    path("", include("escalations.urls")),
    path("", include("statuspage.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
]
