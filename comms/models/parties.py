"""Who messages go to besides customers: partners and vendors, chat routes,
and the delivery rules that hold messages for approval."""

from django.db import models
from django.db.models import Q

from incidents.models import Category, Priority

from .templates import Audience


class ExternalParty(models.Model):
    """A partner (carrier) or vendor the support team depends on."""

    class Kind(models.TextChoices):
        PARTNER = "partner", "Partner"
        VENDOR = "vendor", "Vendor"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    name = models.CharField(max_length=120, unique=True)
    support_email = models.EmailField()
    escalation_contact = models.CharField(max_length=120, blank=True)
    escalation_email = models.EmailField(blank=True)
    other_contacts = models.TextField(
        blank=True,
        help_text="Further addresses of this party that may receive our "
        "messages, one per line.",
    )
    domains = models.TextField(
        blank=True,
        help_text="Mail domains of this party, one per line (e.g. connectx.com): "
        "any address there may receive its messages. Messages to any other "
        "address are refused, so a customer is never written to as a partner.",
    )
    account_ref = models.CharField("our account reference", max_length=80, blank=True)
    ack_hours = models.PositiveSmallIntegerField(
        "contracted acknowledgement (hours)", default=4
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["kind", "name"]
        verbose_name_plural = "external parties"
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["partner", "vendor"]),
                name="%(app_label)s_%(class)s_kind_valid",
            )
        ]

    def __str__(self):
        return f"{self.name} ({self.get_kind_display().lower()})"

    def accepts_address(self, address: str) -> bool:
        """Return whether ``address`` is one of this party's own contacts."""
        address = address.strip().lower()
        contacts = {
            self.support_email.lower(),
            self.escalation_email.lower(),
            *(line.strip().lower() for line in self.other_contacts.splitlines()),
        }
        if address in contacts - {""}:
            return True
        domain = address.rpartition("@")[2]
        return domain in {
            line.strip().lower().lstrip("@") for line in self.domains.splitlines()
        } - {""}


class ChatRoute(models.Model):
    """Where an incident's chat messages go, and who gets pinged.

    From the carrier communication playbook, part 2B.

    The most specific matching route wins: priority, then systemic, then
    category; a route with no condition is the fallback.
    """

    priority = models.CharField(max_length=2, choices=Priority.choices, blank=True)
    is_systemic = models.BooleanField(
        default=False, help_text="Only for systemic incidents."
    )
    category = models.ForeignKey(
        Category,
        on_delete=models.PROTECT,
        related_name="chat_routes",
        null=True,
        blank=True,
    )
    channel_name = models.CharField(max_length=80, help_text="e.g. #cs-urgent")
    ping = models.CharField(
        max_length=120, blank=True, help_text="e.g. @channel or @port-team"
    )
    webhook_url = models.URLField(
        blank=True,
        help_text="Incoming-webhook address of this channel; empty uses "
        "CHAT_WEBHOOK_URL.",
    )

    class Meta:
        ordering = ["priority", "-is_systemic", "category__name"]

    def __str__(self):
        return f"{self.channel_name} {self.ping}".strip()


class DeliveryRule(models.Model):
    """How external messages leave: at once, as a draft, or after approval.

    The most specific matching rule wins (priority and systemic count);
    without a rule, messages a person sends go at once.
    """

    class Mode(models.TextChoices):
        AUTOMATIC = "automatic", "Send automatically"
        DRAFT = "draft", "Draft for the owner to send"
        APPROVAL = "approval", "Needs a manager's approval"

    audience = models.CharField(max_length=20, choices=Audience.choices)
    priority = models.CharField(max_length=2, choices=Priority.choices, blank=True)
    is_systemic = models.BooleanField(default=False)
    mode = models.CharField(max_length=20, choices=Mode.choices)

    class Meta:
        ordering = ["audience", "priority", "-is_systemic"]

    def __str__(self):
        scope = " ".join(
            filter(None, [self.priority, "systemic" if self.is_systemic else ""])
        )
        return f"{self.get_audience_display()} {scope}: {self.get_mode_display()}"
