from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class PortalConfig(AppConfig):
    default = True
    name = "portal"
    verbose_name = "Portal"


class StaffAdminConfig(admin_apps.AdminConfig):
    default = False
    default_site = "portal.admin_site.AdminsOnlySite"
