"""Tokens that scripts and integrations sign API requests with."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class ApiTokenScope(models.TextChoices):
    READ = "read", "Read"
    WRITE = "write", "Read and write"


class ApiToken(models.Model):
    """A bearer token acting as one person (or a service account).

    Only the SHA-256 of the token is kept: tokens are 32 random bytes, so a
    slow password hash would add nothing but latency to every request. The
    prefix (the eight characters after ``sbt_``) finds the row and is shown
    so people can tell their tokens apart.
    """

    Scope = ApiTokenScope

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="api_tokens",
        help_text="Whom the token acts as: its roles decide what it may do. An "
        "integration gets a service account of its own, put in a role group.",
    )
    name = models.CharField(
        max_length=100, help_text="What uses it, e.g. “Status dashboard”."
    )
    prefix = models.CharField(max_length=8, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    scope = models.CharField(
        max_length=5,
        choices=Scope.choices,
        default=Scope.READ,
        help_text="Read answers GET requests only; write may also change things.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        related_name="api_tokens_created",
        null=True,
        blank=True,
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Empty: valid until revoked."
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        related_name="api_tokens_revoked",
        null=True,
        blank=True,
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API token"
        constraints = [
            models.CheckConstraint(
                condition=Q(scope__in=ApiTokenScope.values),
                name="%(app_label)s_%(class)s_scope_valid",
            ),
        ]

    def __str__(self):
        return f"{self.name} (sbt_{self.prefix}…)"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def can_write(self) -> bool:
        return self.scope == self.Scope.WRITE
