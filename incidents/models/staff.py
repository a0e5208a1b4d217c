"""Per-person preferences of the staff who use the portal."""

from django.conf import settings
from django.db import models


class StaffProfile(models.Model):
    """Per-person preferences: the zone times are shown in."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    time_zone = models.CharField(max_length=64, default="UTC")

    def __str__(self):
        return f"{self.user} ({self.time_zone})"
