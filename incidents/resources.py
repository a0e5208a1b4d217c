"""How customers travel in and out of the admin as CSV or spreadsheet rows."""

from import_export import fields, resources, widgets

from portal.exports import FORMULA_STARTS, safe_cell

from .models import Customer, masked

MASK = "•"


class OldCarrierAccountField(fields.Field):
    """A masked number from an export never overwrites the real one."""

    def save(self, instance, row, is_m2m=False, **kwargs):
        if MASK in str(row.get(self.column_name) or ""):
            return
        super().save(instance, row, is_m2m=is_m2m, **kwargs)


class CustomerResource(resources.ModelResource):
    """Customers keyed by account id: a row for an existing id updates it.

    Every row is validated like the admin form; a file with any bad row is
    refused whole, so nothing is half-imported.
    """

    old_carrier_account = OldCarrierAccountField(
        attribute="old_carrier_account", column_name="old_carrier_account"
    )
    success_manager = fields.Field(
        attribute="success_manager",
        column_name="success_manager",
        widget=widgets.ForeignKeyWidget(
            Customer._meta.get_field("success_manager").related_model, "username"
        ),
    )
    policy = fields.Field(
        attribute="policy",
        column_name="policy",
        widget=widgets.ForeignKeyWidget(
            Customer._meta.get_field("policy").related_model, "name"
        ),
    )

    class Meta:
        model = Customer
        import_id_fields = ["account_id"]
        fields = [
            "account_id",
            "name",
            "email",
            "segment",
            "is_vip",
            "customer_since_on",
            "account_status",
            "phone",
            "old_carrier_account",
            "company",
            "package_level",
            "annual_contract_value",
            "contract_currency",
            "relationship_status",
            "contact_name",
            "contact_title",
            "success_manager",
            "renewal_on",
            "time_zone",
            "policy",
        ]
        export_order = fields
        clean_model_instances = True
        skip_unchanged = True
        report_skipped = True

    def __init__(self, *, full_account_numbers: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.full_account_numbers = full_account_numbers

    def import_data(self, dataset, **kwargs):
        # All or nothing: a bad row rolls back the good ones before it.
        kwargs.update(use_transactions=True, rollback_on_validation_errors=True)
        return super().import_data(dataset, **kwargs)

    def export_field(self, field, instance, **kwargs):
        # Through the one spreadsheet-safe cell rule of every export.
        return safe_cell(super().export_field(field, instance, **kwargs))

    def before_import_row(self, row, **kwargs):
        # Undo the export's guard, so a file round-trips unchanged.
        for name, value in row.items():
            if (
                isinstance(value, str)
                and value.startswith("'")
                and value[1:].startswith(FORMULA_STARTS)
            ):
                row[name] = value[1:]

    def dehydrate_old_carrier_account(self, customer: Customer) -> str:
        if self.full_account_numbers:
            return customer.old_carrier_account
        return masked(customer.old_carrier_account)
