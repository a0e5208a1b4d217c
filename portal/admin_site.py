from functools import update_wrapper

from django.conf import settings
from django.contrib import admin
from django.contrib.admin import AdminSite
from django.contrib.admin.widgets import AutocompleteSelect
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from .forms import (
    BoundedKeysMultipleChoiceField,
    PortalModelForm,
    refuse_unstorable_text,
)

# Longer searches match nothing any of our list pages hold, and SQLite
# refuses a LIKE pattern of 50,000 characters.
SEARCH_MAX_LENGTH = 1_000
# Rows an inline without its own limit takes in one save (a calendar's
# holidays: decades of them).
INLINE_MAX_ROWS = 500

ADMIN_GROUP = "Admin"


class AdminsOnlySite(AdminSite):
    """The Django admin, open to members of the Admin group only.

    Anyone else who is signed in gets a page saying so (403), not the admin's
    own login form; people who are not signed in use the portal's sign-in
    page, the one form that login throttling and its messages cover.
    """

    site_header = "Switchboard administration"
    site_title = "Switchboard admin"
    index_title = "Templates, policies and reference data"

    def has_permission(self, request):
        user = request.user
        if not (user.is_active and user.is_staff):
            return False
        return user.is_superuser or user.groups.filter(name=ADMIN_GROUP).exists()

    def admin_view(self, view, cacheable=False):
        checked = super().admin_view(view, cacheable)

        def refuse_non_admins(request, *args, **kwargs):
            if request.user.is_authenticated and not self.has_permission(request):
                return self.refuse(request)
            return checked(request, *args, **kwargs)

        return update_wrapper(refuse_non_admins, checked)

    @login_not_required
    def login(self, request, extra_context=None):
        if not request.user.is_authenticated:
            next_url = request.GET.get("next", "")
            if not url_has_allowed_host_and_scheme(
                next_url, allowed_hosts={request.get_host()}
            ):
                next_url = reverse("admin:index", current_app=self.name)
            return redirect_to_login(next_url, settings.LOGIN_URL)
        if not self.has_permission(request):
            return self.refuse(request)
        return HttpResponseRedirect(reverse("admin:index", current_app=self.name))

    def refuse(self, request):
        """Answer 403 with a way back; Django logs it as one warning line."""
        return TemplateResponse(request, "registration/admin_refused.html", status=403)


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


class PortalAutocompleteMixin:
    """Key boxes that refuse a posted value that is not a key, with a message:
    autocomplete boxes re-render it, many-to-many boxes bound it."""

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        # Out-of-range keys get a message, not a database overflow.
        kwargs.setdefault("form_class", BoundedKeysMultipleChoiceField)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(
            request
        ):
            kwargs["widget"] = PortalAutocompleteSelect(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class PortalModelAdmin(PortalAutocompleteMixin, admin.ModelAdmin):
    """A model admin whose forms hold the portal's input limits."""

    form = PortalModelForm

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


class PortalInlineMixin(PortalAutocompleteMixin):
    """An inline whose rows hold the portal's input limits.

    Its autocomplete boxes are the portal's too: Django's own looked a posted
    owner of "abc" up as a key and answered a server error.
    """

    form = PortalModelForm
    formset = PortalInlineFormSet

    def get_formset(self, request, obj=None, **kwargs):
        # Django builds (and renders) up to 1,000 rows past the limit for a
        # posted row count; a few past it are enough to say it is too many.
        max_num = self.get_max_num(request, obj, **kwargs)
        # 0 means no row may be added (no add permission): keep it, or the
        # admin's script offers an "Add another" that cannot work.
        if max_num is None:
            max_num = INLINE_MAX_ROWS
        kwargs.setdefault("max_num", max_num)
        # Existing rows still post with the form, however few may be added.
        kwargs.setdefault("absolute_max", (max_num or INLINE_MAX_ROWS) + 10)
        return super().get_formset(request, obj, **kwargs)


class PortalTabularInline(PortalInlineMixin, admin.TabularInline):
    """A table of rows that hold the portal's input limits."""


class PortalStackedInline(PortalInlineMixin, admin.StackedInline):
    """Stacked rows that hold the portal's input limits."""
