"""The pages' permission checks, for the API's endpoints."""

from django.core.exceptions import PermissionDenied


def require(request, *permissions: str) -> None:
    """Refuse (403) unless the token's person holds every permission, as the
    page's ``@permission_required`` would."""
    if not request.user.has_perms(permissions):
        raise PermissionDenied("Your role may not do that; ask a colleague who can.")
