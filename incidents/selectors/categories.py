"""The categories an incident under a policy may take."""

from django.db.models import Exists, OuterRef, QuerySet

from ..models import Category, Policy


def categories_offered(policy: Policy) -> QuerySet[Category]:
    """Return the active categories of ``policy``.

    A policy that any category names offers only those; every other policy
    offers the categories that name no policy.
    """
    links = Category.policies.through.objects
    has_own = Exists(links.filter(policy_id=policy.pk))
    names_none = ~Exists(links.filter(category_id=OuterRef("pk")))
    names_this = Exists(links.filter(category_id=OuterRef("pk"), policy_id=policy.pk))
    return Category.objects.filter(is_active=True).filter(
        names_this | (~has_own & names_none)
    )
