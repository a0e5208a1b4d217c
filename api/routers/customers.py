"""Customers: the search, one customer, adding and changing one.

Only the admin edits customers in the portal, so adding and changing need
the admin's permissions (incidents.add_customer, incidents.change_customer).
"""

from typing import Any

from django.http import Http404
from ninja import Field, Path, Query, Router, Status

from incidents.models import Customer

from .. import selectors, services, shapes
from ..auth import write_token
from ..forms import CustomerForm, posted_values, untouched_values
from ..pagination import cursor_page
from ..permissions import require
from ..problems import form_refused
from ..schemas import (
    CustomerCreateIn,
    CustomerFieldsIn,
    CustomerOut,
    CustomerPage,
    PlainText,
)
from .incidents import READ_ERRORS, WRITE_ERRORS, PageQuery

router = Router(tags=["customers"])

CustomerId = Path(..., ge=1, le=selectors.INTEGER_MAX)


class CustomerQuery(PageQuery):
    q: PlainText | None = Field(
        None,
        max_length=254,
        description="Start of an account id or e-mail, or part of the name.",
    )


def _shown(request, customer: Customer) -> dict:
    return shapes.customer(
        customer,
        full_account_numbers=request.user.has_perm(
            "incidents.view_full_account_numbers"
        ),
    )


def _customer_or_404(customer_id: int) -> Customer:
    customer = Customer.objects.select_related("policy").filter(pk=customer_id).first()
    if customer is None:
        raise Http404("No such customer.")
    return customer


def _form_values(fields: dict[str, Any]) -> dict[str, Any]:
    return {name: "" if value is None else value for name, value in fields.items()}


@router.get("/customers", response={200: CustomerPage, **READ_ERRORS})
def list_customers(request, params: Query[CustomerQuery]):
    """List customers newest first, or those matching ``q``."""
    require(request, "incidents.view_customer")
    page, next_cursor = cursor_page(
        selectors.customers_matching(params.q or ""),
        name=f"customers.{params.q or ''}",
        limit=params.limit,
        cursor=params.cursor,
    )
    return {"items": [_shown(request, c) for c in page], "next_cursor": next_cursor}


@router.get("/customers/{customer_id}", response={200: CustomerOut, **READ_ERRORS})
def read_customer(request, customer_id: int = CustomerId):
    """Read one customer."""
    require(request, "incidents.view_customer")
    return _shown(request, _customer_or_404(customer_id))


@router.post(
    "/customers", auth=write_token, response={201: CustomerOut, **WRITE_ERRORS}
)
def create_customer(request, payload: CustomerCreateIn):
    """Add a customer, with the admin's checks."""
    require(request, "incidents.add_customer")
    data = untouched_values(CustomerForm())
    data.update(_form_values(payload.dict(exclude_unset=True)))
    form = CustomerForm(data)
    if not form.is_valid():
        return form_refused(form)
    customer = services.create_customer(actor=request.user, **form.cleaned_data)
    return Status(201, _shown(request, _customer_or_404(customer.pk)))


@router.patch(
    "/customers/{customer_id}",
    auth=write_token,
    response={200: CustomerOut, **WRITE_ERRORS},
)
def edit_customer(request, payload: CustomerFieldsIn, customer_id: int = CustomerId):
    """Change some of a customer's fields; the others keep their values."""
    require(request, "incidents.change_customer")
    customer = _customer_or_404(customer_id)
    sent = payload.dict(exclude_unset=True)
    data = posted_values(CustomerForm(instance=customer))
    data.update(_form_values(sent))
    form = CustomerForm(data, instance=customer)
    if not form.is_valid():
        return form_refused(form)
    services.update_customer(
        customer=customer,
        actor=request.user,
        changes={name: form.cleaned_data[name] for name in sent},
    )
    return _shown(request, _customer_or_404(customer_id))
