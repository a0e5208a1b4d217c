"""What every page may name: our own support team (customers' pages say it
instead of the portal's name)."""

from django.conf import settings


def support_team(request) -> dict[str, str]:
    return {"support_team": settings.SUPPORT_TEAM_NAME}
