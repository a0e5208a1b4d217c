"""Credit and refund requests, approval limits per policy and role (issue 12).

Ships the playbooks' authority (see ApprovalLimit's help text for how they
combine): under the carrier playbook an agent decides refunds up to $100 and
a senior agent (L2) refunds up to $5,000 (002, LIMIT-3); under every shipped
policy a manager decides up to $5,000 and the VP above (004, LIMIT-1/2).
The cap of $50,000 per request only catches mistyped amounts; admins change
all of it. Idempotent: rows already there are left as an admin set them.
"""

import django.core.validators
import django.db.models.deletion
from decimal import Decimal
from django.conf import settings
from django.db import migrations, models

from portal.roles import sync_roles

CAP = Decimal("50000.00")
SHIPPED_POLICIES = ["Carrier playbook", "Automation agency", "Fleet SaaS"]
# (policy or None for every shipped policy, role, kind, up to; None = cap)
LIMITS = [
    ("Carrier playbook", "Agent", "refund", Decimal("100.00")),
    ("Carrier playbook", "Senior agent", "refund", Decimal("5000.00")),
    (None, "Manager", "", Decimal("5000.00")),
    (None, "VP", "", None),
]


def ship_credit_rules(apps, schema_editor):
    Policy = apps.get_model("incidents", "Policy")
    Group = apps.get_model("auth", "Group")
    CreditPolicy = apps.get_model("escalations", "CreditPolicy")
    ApprovalLimit = apps.get_model("escalations", "ApprovalLimit")
    for policy in Policy.objects.filter(name__in=SHIPPED_POLICIES):
        CreditPolicy.objects.get_or_create(
            policy=policy, defaults={"currency": "USD", "cap": CAP}
        )
        for policy_name, role, kind, up_to in LIMITS:
            if policy_name not in (None, policy.name):
                continue
            group, _ = Group.objects.get_or_create(name=role)
            ApprovalLimit.objects.get_or_create(
                policy=policy,
                group=group,
                kind=kind,
                currency="USD",
                defaults={"max_amount": up_to},
            )


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("comms", "0007_credit_template"),
        ("escalations", "0001_initial"),
        ("incidents", "0014_timeline_kinds_for_escalation_closure_automation"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="CreditPolicy",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True,
                        primary_key=True,
                        serialize=False,
                        verbose_name="ID",
                    ),
                ),
                (
                    "currency",
                    models.CharField(
                        default="USD",
                        help_text="The currency this policy's approval limits and cap are written in. Requests in another currency are refused unless a rate below, or an approval limit, names that currency.",
                        max_length=3,
                        validators=[
                            django.core.validators.RegexValidator(
                                "^[A-Z]{3}$",
                                "Use a three-letter currency code such as USD.",
                            )
                        ],
                    ),
                ),
                (
                    "cap",
                    models.DecimalField(
                        decimal_places=2,
                        help_text="No single request may ask for more than this (in the policy's currency): it catches a mistyped amount before anyone decides on it. Nobody's authority goes beyond it.",
                        max_digits=12,
                        validators=[
                            django.core.validators.MinValueValidator(Decimal("0.01"))
                        ],
                        verbose_name="largest request",
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "policy",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="credit_policy",
                        to="incidents.policy",
                    ),
                ),
            ],
            options={
                "verbose_name": "credit rules",
                "verbose_name_plural": "credit rules",
            },
        ),
        migrations.CreateModel(
            name="CreditRequest",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True,
                        primary_key=True,
                        serialize=False,
                        verbose_name="ID",
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("service_credit", "Service credit"),
                            ("refund", "Refund"),
                            ("plan_extension", "Plan extension"),
                            ("waived_charge", "Waived charge"),
                            ("other", "Other"),
                        ],
                        max_length=20,
                    ),
                ),
                ("amount", models.DecimalField(decimal_places=2, max_digits=12)),
                (
                    "currency",
                    models.CharField(
                        default="USD",
                        max_length=3,
                        validators=[
                            django.core.validators.RegexValidator(
                                "^[A-Z]{3}$",
                                "Use a three-letter currency code such as USD.",
                            )
                        ],
                    ),
                ),
                (
                    "policy_amount",
                    models.DecimalField(
                        blank=True, decimal_places=2, max_digits=12, null=True
                    ),
                ),
                (
                    "extension_days",
                    models.PositiveSmallIntegerField(
                        blank=True,
                        help_text="For a plan extension: by how many days (000 5B).",
                        null=True,
                    ),
                ),
                ("reason", models.TextField()),
                ("evidence_note", models.TextField(blank=True)),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("requested", "Awaiting a decision"),
                            ("approved", "Approved"),
                            ("rejected", "Rejected"),
                            ("applied", "Applied"),
                            ("cancelled", "Cancelled"),
                        ],
                        default="requested",
                        max_length=20,
                    ),
                ),
                ("requested_at", models.DateTimeField()),
                ("decided_at", models.DateTimeField(blank=True, null=True)),
                ("decision_reason", models.TextField(blank=True)),
                ("billing_reference", models.CharField(blank=True, max_length=100)),
                ("applied_at", models.DateTimeField(blank=True, null=True)),
                ("cancelled_at", models.DateTimeField(blank=True, null=True)),
                ("cancel_reason", models.TextField(blank=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "applied_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="credits_applied",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "cancelled_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="credits_cancelled",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "customer",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="credit_requests",
                        to="incidents.customer",
                    ),
                ),
                (
                    "customer_message",
                    models.ForeignKey(
                        blank=True,
                        help_text="The message telling the customer of the approval.",
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="credit_notices",
                        to="comms.message",
                    ),
                ),
                (
                    "decided_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="credits_decided",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "evidence_messages",
                    models.ManyToManyField(
                        blank=True, related_name="credit_requests", to="comms.message"
                    ),
                ),
                (
                    "incident",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="credit_requests",
                        to="incidents.incident",
                    ),
                ),
                (
                    "requested_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="credits_requested",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["-requested_at", "-id"],
                "permissions": [
                    ("request_credit", "Can ask for a credit or refund"),
                    ("decide_credit", "Can approve or reject credits within a limit"),
                    (
                        "apply_credit",
                        "Can record an approved credit as applied in billing",
                    ),
                    ("export_credits", "Can export credits for finance"),
                ],
            },
        ),
        migrations.CreateModel(
            name="CurrencyRate",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True,
                        primary_key=True,
                        serialize=False,
                        verbose_name="ID",
                    ),
                ),
                (
                    "currency",
                    models.CharField(
                        max_length=3,
                        validators=[
                            django.core.validators.RegexValidator(
                                "^[A-Z]{3}$",
                                "Use a three-letter currency code such as USD.",
                            )
                        ],
                    ),
                ),
                (
                    "rate",
                    models.DecimalField(
                        decimal_places=6,
                        help_text="Value of 1 unit of this currency in the policy's currency, e.g. 1.08 for EUR when the policy counts in USD. Requests in this currency are converted with it, then checked against the limits and the cap.",
                        max_digits=14,
                        validators=[
                            django.core.validators.MinValueValidator(
                                Decimal("0.000001")
                            )
                        ],
                    ),
                ),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "credit_policy",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="rates",
                        to="escalations.creditpolicy",
                    ),
                ),
            ],
            options={
                "ordering": ["currency"],
            },
        ),
        migrations.CreateModel(
            name="ApprovalLimit",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True,
                        primary_key=True,
                        serialize=False,
                        verbose_name="ID",
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("service_credit", "Service credit"),
                            ("refund", "Refund"),
                            ("plan_extension", "Plan extension"),
                            ("waived_charge", "Waived charge"),
                            ("other", "Other"),
                        ],
                        help_text="Empty: every kind of credit.",
                        max_length=20,
                    ),
                ),
                (
                    "currency",
                    models.CharField(
                        default="USD",
                        help_text="The policy's own currency covers requests in every currency it has a rate for. Another currency covers requests in that currency only, compared as entered.",
                        max_length=3,
                        validators=[
                            django.core.validators.RegexValidator(
                                "^[A-Z]{3}$",
                                "Use a three-letter currency code such as USD.",
                            )
                        ],
                    ),
                ),
                (
                    "max_amount",
                    models.DecimalField(
                        blank=True,
                        decimal_places=2,
                        help_text="Largest amount this role may decide, inclusive. Empty: up to the policy's largest request.",
                        max_digits=12,
                        null=True,
                        validators=[
                            django.core.validators.MinValueValidator(Decimal("0.01"))
                        ],
                        verbose_name="up to",
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "group",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="approval_limits",
                        to="auth.group",
                        verbose_name="role",
                    ),
                ),
                (
                    "policy",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="approval_limits",
                        to="incidents.policy",
                    ),
                ),
            ],
            options={
                "ordering": ["policy__name", "max_amount", "group__name"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("policy", "group", "kind", "currency"),
                        name="escalations_approvallimit_one_per_role",
                        violation_error_message="This role already has a limit for this kind and currency under this policy; edit that one.",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            ("kind", ""),
                            (
                                "kind__in",
                                [
                                    "service_credit",
                                    "refund",
                                    "plan_extension",
                                    "waived_charge",
                                    "other",
                                ],
                            ),
                            _connector="OR",
                        ),
                        name="escalations_approvallimit_kind_valid",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            ("max_amount__isnull", True),
                            ("max_amount__gt", 0),
                            _connector="OR",
                        ),
                        name="escalations_approvallimit_max_positive",
                    ),
                ],
            },
        ),
        migrations.AddConstraint(
            model_name="creditpolicy",
            constraint=models.CheckConstraint(
                condition=models.Q(("cap__gt", 0)),
                name="escalations_creditpolicy_cap_positive",
            ),
        ),
        migrations.AddIndex(
            model_name="creditrequest",
            index=models.Index(
                fields=["status", "requested_at"], name="credit_status_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="creditrequest",
            index=models.Index(
                fields=["incident", "-requested_at"], name="credit_incident_idx"
            ),
        ),
        migrations.AddConstraint(
            model_name="creditrequest",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "status__in",
                        ["requested", "approved", "rejected", "applied", "cancelled"],
                    )
                ),
                name="escalations_creditrequest_status_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="creditrequest",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "kind__in",
                        [
                            "service_credit",
                            "refund",
                            "plan_extension",
                            "waived_charge",
                            "other",
                        ],
                    )
                ),
                name="escalations_creditrequest_kind_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="creditrequest",
            constraint=models.CheckConstraint(
                condition=models.Q(("amount__gt", 0)),
                name="escalations_creditrequest_amount_positive",
                violation_error_message="The amount must be more than zero.",
            ),
        ),
        migrations.AddConstraint(
            model_name="creditrequest",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("extension_days__isnull", True),
                    models.Q(("extension_days__gt", 0), ("kind", "plan_extension")),
                    _connector="OR",
                ),
                name="escalations_creditrequest_days_only_for_extensions",
            ),
        ),
        migrations.AddConstraint(
            model_name="creditrequest",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("decided_at__isnull", True),
                        ("decided_by__isnull", True),
                        ("status", "requested"),
                    ),
                    models.Q(
                        ("decided_at__isnull", False),
                        ("decided_by__isnull", False),
                        ("status__in", ["approved", "rejected", "applied"]),
                    ),
                    ("status", "cancelled"),
                    _connector="OR",
                ),
                name="escalations_creditrequest_decided_iff_decided",
            ),
        ),
        migrations.AddConstraint(
            model_name="creditrequest",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("status", "rejected"), _negated=True),
                    models.Q(("decision_reason", ""), _negated=True),
                    _connector="OR",
                ),
                name="escalations_creditrequest_rejection_has_reason",
            ),
        ),
        migrations.AddConstraint(
            model_name="creditrequest",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("decided_by", models.F("requested_by")), _negated=True
                ),
                name="escalations_creditrequest_not_own_decision",
            ),
        ),
        migrations.AddConstraint(
            model_name="creditrequest",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("applied_at__isnull", False),
                        ("applied_by__isnull", False),
                        ("status", "applied"),
                        models.Q(("billing_reference", ""), _negated=True),
                    ),
                    models.Q(
                        models.Q(("status", "applied"), _negated=True),
                        ("applied_at__isnull", True),
                        ("applied_by__isnull", True),
                        ("billing_reference", ""),
                    ),
                    _connector="OR",
                ),
                name="escalations_creditrequest_applied_iff_applied",
            ),
        ),
        migrations.AddConstraint(
            model_name="creditrequest",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("cancelled_at__isnull", False),
                        ("cancelled_by__isnull", False),
                        ("status", "cancelled"),
                    ),
                    models.Q(
                        models.Q(("status", "cancelled"), _negated=True),
                        ("cancelled_at__isnull", True),
                        ("cancelled_by__isnull", True),
                    ),
                    _connector="OR",
                ),
                name="escalations_creditrequest_cancelled_iff_cancelled",
            ),
        ),
        migrations.AddConstraint(
            model_name="currencyrate",
            constraint=models.UniqueConstraint(
                fields=("credit_policy", "currency"),
                name="escalations_currencyrate_one_rate",
            ),
        ),
        migrations.AddConstraint(
            model_name="currencyrate",
            constraint=models.CheckConstraint(
                condition=models.Q(("rate__gt", 0)),
                name="escalations_currencyrate_rate_positive",
            ),
        ),
        migrations.RunPython(ship_credit_rules, migrations.RunPython.noop),
        migrations.RunPython(sync_roles, migrations.RunPython.noop),
    ]
