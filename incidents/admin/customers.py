"""Admin for customers, with CSV and XLSX import and export."""

from django.contrib import admin, messages
from django.utils import timezone
from import_export.admin import ImportExportModelAdmin

from portal.admin_site import (
    PortalModelAdmin,
)

from ..admin_forms import FriendlyFieldsMixin
from ..models import (
    Customer,
)
from ..resources import CustomerResource


@admin.register(Customer)
class CustomerAdmin(FriendlyFieldsMixin, ImportExportModelAdmin, PortalModelAdmin):
    list_display = [
        "name",
        "company",
        "email",
        "account_id",
        "segment",
        "account_status",
        "is_vip",
        "policy",
    ]
    list_filter = [
        "segment",
        "account_status",
        "relationship_status",
        "is_vip",
        "policy",
    ]
    list_select_related = ["policy"]
    search_fields = ["=account_id", "name", "=email", "company"]
    autocomplete_fields = ["policy", "success_manager"]
    show_full_result_count = False
    resource_classes = [CustomerResource]
    fieldsets = [
        (None, {"fields": ["name", "email", "account_id", "policy"]}),
        (
            "Account",
            {
                "fields": [
                    "segment",
                    "account_status",
                    "is_vip",
                    "customer_since_on",
                    "phone",
                    "old_carrier_account",
                    "time_zone",
                ]
            },
        ),
        (
            "Organisation and contract",
            {
                "fields": [
                    "company",
                    "contact_name",
                    "contact_title",
                    "package_level",
                    ("annual_contract_value", "contract_currency"),
                    "relationship_status",
                    "success_manager",
                    "renewal_on",
                ]
            },
        ),
    ]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        # Allowed (the record may lag the contract), but worth a look.
        if obj.renewal_on and obj.renewal_on < timezone.localdate():
            self.message_user(
                request,
                f"The contract renewal date of {obj} ({obj.renewal_on:%-d %b %Y}) "
                "is in the past; update it if the contract was renewed.",
                messages.WARNING,
            )

    def get_export_resource_kwargs(self, request, **kwargs):
        return {
            **super().get_export_resource_kwargs(request, **kwargs),
            "full_account_numbers": request.user.has_perm(
                "incidents.view_full_account_numbers"
            ),
        }
