from django.contrib import admin
from django.contrib.admin import AdminSite
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet

from .forms import PortalModelForm, refuse_unstorable_text

# Longer searches match nothing any of our list pages hold, and SQLite
# refuses a LIKE pattern of 50,000 characters.
SEARCH_MAX_LENGTH = 1_000
# Rows an inline without its own limit takes in one save (a calendar's
# holidays: decades of them).
INLINE_MAX_ROWS = 500

ADMIN_GROUP = "Admin"


class AdminsOnlySite(AdminSite):
    """The Django admin, open to members of the Admin group only."""

    site_header = "Switchboard administration"
    site_title = "Switchboard admin"
    index_title = "Templates, policies and reference data"

    def has_permission(self, request):
        user = request.user
        if not (user.is_active and user.is_staff):
            return False
        return user.is_superuser or user.groups.filter(name=ADMIN_GROUP).exists()


class PortalAutocompleteSelect(AutocompleteSelect):
    """Django's autocomplete select, which also re-renders a value not a key.

    Django's looks the submitted values up as keys to show them again, and a
    value that is not one ("abc") raises there: a server error in place of
    the form's "Select a valid choice".
    """

    def optgroups(self, name, value, attr=None):
        keys = []
        for item in value:
            try:
                self.field.target_field.clean(item, None)
            except ValidationError:
                continue
            keys.append(item)
        return super().optgroups(name, keys, attr)


class PortalModelAdmin(admin.ModelAdmin):
    """A model admin whose forms hold the portal's input limits."""

    form = PortalModelForm

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(
            request
        ):
            kwargs["widget"] = PortalAutocompleteSelect(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_changelist_form(self, request, **kwargs):
        kwargs.setdefault("form", PortalModelForm)
        return super().get_changelist_form(request, **kwargs)

    def get_search_results(self, request, queryset, search_term):
        # PostgreSQL cannot compare with text holding NUL; nothing matches it.
        try:
            refuse_unstorable_text(search_term)
        except ValidationError:
            return queryset.none(), False
        if len(search_term) > SEARCH_MAX_LENGTH:
            return queryset.none(), False
        return super().get_search_results(request, queryset, search_term)


class PortalInlineFormSet(BaseInlineFormSet):
    """An inline formset that refuses a row count no admin page sends.

    Django trusts the posted count of existing rows: a negative one saves the
    existing rows again as new ones, which the database refuses (a server
    error in place of a form error).
    """

    def clean(self):
        super().clean()
        if not 0 <= self.initial_form_count() <= len(self.get_queryset()):
            raise ValidationError(
                "The rows of this table changed since the page was opened; "
                "reload the page and make the change again.",
                code="row_count_changed",
            )


class PortalTabularInline(admin.TabularInline):
    """An inline whose rows hold the portal's input limits."""

    form = PortalModelForm
    formset = PortalInlineFormSet

    def get_formset(self, request, obj=None, **kwargs):
        # Django builds (and renders) up to 1,000 rows past the limit for a
        # posted row count; a few past it are enough to say it is too many.
        max_num = self.get_max_num(request, obj, **kwargs) or INLINE_MAX_ROWS
        kwargs.setdefault("max_num", max_num)
        kwargs.setdefault("absolute_max", max_num + 10)
        return super().get_formset(request, obj, **kwargs)
