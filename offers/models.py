"""The product catalogue, offers (and, once won, orders), and ownership: which contact and company
own which product since when — what the R/U/C detector (customers app) compares interest against."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

TOPIC_MAX_LENGTH = 100  # as scoring.Event.topic
DEFAULT_CURRENCY = "EUR"
CURRENCY_RE = r"^[A-Z]{3}$"  # ISO 4217 alphabetic code


class Product(models.Model):
    name = models.CharField(_("name"), max_length=150, unique=True)
    sku = models.CharField(_("article number"), max_length=60, blank=True)
    description = models.TextField(_("description"), blank=True, max_length=4000)
    price = models.DecimalField(
        _("list price"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
    )
    # Products of one family are steps of one line (basic → pro): interest in a family member the
    # customer does not own, next to one they do, is an up-sell; in another family, a cross-sell.
    family = models.CharField(_("product family"), max_length=100, blank=True)
    # A product bought again and again (consumables, service contracts): interest in it after a
    # purchase is a *repeat* signal, not noise.
    repeatable = models.BooleanField(_("bought repeatedly"), default=False)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("product")
        verbose_name_plural = _("products")

    def __str__(self):
        return self.name


class ProductTopic(models.Model):
    """A topic events carry (``scoring.Event.topic``) that shows interest in this product."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="topics")
    topic = models.CharField(_("topic"), max_length=TOPIC_MAX_LENGTH)

    class Meta:
        ordering = ["topic"]
        constraints = [models.UniqueConstraint(fields=["product", "topic"], name="product_topic_unique")]
        indexes = [models.Index(fields=["topic"], name="product_topic_idx")]

    def __str__(self):
        return self.topic


class Offer(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        OPEN = "open", _("Sent, open")
        WON = "won", _("Won")
        LOST = "lost", _("Lost")

    title = models.CharField(_("title"), max_length=200)
    # An offer is a business record that outlives its contact person (deleting a contact must work,
    # and won offers keep counting for win rate and order value): the offer stays, with its company.
    contact = models.ForeignKey(
        "funnel.Contact",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="offers",
        verbose_name=_("contact"),
    )
    company = models.ForeignKey(
        "funnel.Company",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="offers",
        verbose_name=_("company"),
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="offers"
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    currency = models.CharField(
        _("currency"),
        max_length=3,
        default=DEFAULT_CURRENCY,
        validators=[RegexValidator(CURRENCY_RE, _("A three-letter currency code such as EUR."))],
    )
    lost_reason = models.CharField(_("reason lost"), max_length=300, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("offer")
        verbose_name_plural = _("offers")
        indexes = [
            models.Index(fields=["status", "-created_at"], name="offer_status_idx"),
            models.Index(fields=["contact", "-created_at"], name="offer_contact_idx"),
            models.Index(fields=["owner", "status"], name="offer_owner_idx"),
            models.Index(fields=["-created_at", "-id"], name="offer_created_idx"),
            # Win rate and order value over a period (offers.selectors.offer_stats).
            models.Index(
                fields=["decided_at"],
                name="offer_decided_idx",
                condition=models.Q(status__in=["won", "lost"]),
            ),
        ]

    def __str__(self):
        return self.title

    @property
    def value(self) -> Decimal:
        """The sum of the items. Lists annotate it in SQL as ``total`` (offers.selectors)."""
        if "total" in self.__dict__:
            return self.__dict__["total"]
        return sum((item.amount for item in self.items.all()), Decimal("0"))


class OfferItem(models.Model):
    offer = models.ForeignKey(Offer, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="offer_items")
    quantity = models.PositiveIntegerField(_("quantity"), default=1, validators=[MinValueValidator(1)])
    unit_price = models.DecimalField(
        _("unit price"), max_digits=12, decimal_places=2, validators=[MinValueValidator(0)]
    )

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["offer", "product"], name="offer_item_unique")]

    def __str__(self):
        return f"{self.quantity} × {self.product_id}"

    @property
    def amount(self) -> Decimal:
        return self.unit_price * self.quantity


class Ownership(models.Model):
    """A contact (and their company) owns a product: from a won offer, or recorded by hand."""

    contact = models.ForeignKey("funnel.Contact", on_delete=models.CASCADE, related_name="ownerships")
    company = models.ForeignKey(
        "funnel.Company", on_delete=models.CASCADE, null=True, blank=True, related_name="ownerships"
    )
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="ownerships")
    since = models.DateTimeField(_("since"))
    last_purchase_at = models.DateTimeField(_("last purchase"))
    offer = models.ForeignKey(Offer, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["-last_purchase_at", "-id"]
        verbose_name = _("ownership")
        verbose_name_plural = _("ownerships")
        constraints = [models.UniqueConstraint(fields=["contact", "product"], name="ownership_unique")]
        indexes = [
            models.Index(fields=["company", "product"], name="ownership_company_idx"),
            models.Index(fields=["product"], name="ownership_product_idx"),
        ]

    def __str__(self):
        return f"{self.contact_id} owns {self.product_id}"
