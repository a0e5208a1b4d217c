"""What the portal itself keeps: the forms already acted on."""

from django.conf import settings
from django.db import models


class FormSubmission(models.Model):
    """A rendered form that has been acted on, so a second post of it is not.

    A double click, a second tab or a browser's retry posts the same form
    again; its one-time key is taken in the same transaction as the act, so
    the second post finds it and is told the work was already done.
    """

    key = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="form_submissions",
    )
    done_url = models.CharField(
        max_length=300, blank=True, help_text="Where the first post led."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.key} by {self.user}"
