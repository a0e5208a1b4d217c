import zoneinfo

from django.utils import timezone

SESSION_TIME_ZONE_KEY = "time_zone"


class UserTimeZoneMiddleware:
    """Show times in the signed-in user's zone (kept in the session).

    The zone is copied into the session at login and whenever the user changes
    it, so ordinary page views cost no query for it.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        zone_name = request.session.get(SESSION_TIME_ZONE_KEY)
        if zone_name:
            try:
                timezone.activate(zoneinfo.ZoneInfo(zone_name))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                timezone.deactivate()
        else:
            timezone.deactivate()
        return self.get_response(request)
