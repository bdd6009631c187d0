"""Forms of the offers pages. They validate and convert input; every write goes through
``offers.services``, whose field errors the views put back on these forms."""

from __future__ import annotations

import re
from datetime import datetime, time

from django import forms
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _

from funnel.forms import UserChoiceField, assignable_users
from nurturing.forms import ContactRefField
from offers.models import Offer, Product
from offers.selectors import product_choices
from offers.services import LOST_REASON_MAX_LENGTH, MAX_ITEMS, MAX_QUANTITY

TOPICS_MAX_LENGTH = 2000
TOPIC_SPLIT_RE = re.compile(r"[,;\n]+")


class ProductChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        label = obj.name
        if obj.price is not None:
            label += f" ({number_format(obj.price, 2, use_l10n=True, force_grouping=True)})"
        if not obj.active:
            label += " — " + str(_("inactive"))
        return label


# --- Products -------------------------------------------------------------------------------------


class ProductForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=Product._meta.get_field("name").max_length)
    sku = forms.CharField(label=_("Article number"), max_length=60, required=False)
    family = forms.CharField(
        label=_("Product family"),
        max_length=100,
        required=False,
        help_text=_(
            "Products of one family are steps of one line (basic → pro): an up-sell, not a cross-sell."
        ),
    )
    price = forms.DecimalField(
        label=_("List price"), max_digits=12, decimal_places=2, min_value=0, required=False
    )
    topics = forms.CharField(
        label=_("Topics"),
        max_length=TOPICS_MAX_LENGTH,
        required=False,
        help_text=_(
            "Comma-separated topics that events carry, e.g. “pcb-design, emv”. Interest in them shows "
            "interest in this product."
        ),
    )
    description = forms.CharField(
        label=_("Description"), max_length=4000, required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    repeatable = forms.BooleanField(
        label=_("Bought repeatedly (consumables, service contracts)"), required=False
    )
    active = forms.BooleanField(label=_("Active: offered in new offers"), required=False, initial=True)

    def __init__(self, *args, instance: Product | None = None, **kwargs):
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "name": instance.name,
                "sku": instance.sku,
                "family": instance.family,
                "price": instance.price,
                "topics": ", ".join(t.topic for t in instance.topics.all()),
                "description": instance.description,
                "repeatable": instance.repeatable,
                "active": instance.active,
            }
        super().__init__(*args, **kwargs)
        self.fields["price"].widget.attrs["class"] = "input-num"

    def service_kwargs(self) -> dict:
        data = dict(self.cleaned_data)
        data["topics"] = [t for t in TOPIC_SPLIT_RE.split(data["topics"]) if t.strip()]
        return data


# --- Offers ---------------------------------------------------------------------------------------


class OfferForm(forms.Form):
    """An offer's own fields; the contact only when creating (it cannot change afterwards)."""

    title = forms.CharField(label=_("Title"), max_length=Offer._meta.get_field("title").max_length)
    contact = ContactRefField(
        label=_("Contact"),
        help_text=_("Type a name, email or #id and pick a suggestion."),
        widget=forms.TextInput(
            attrs={
                "list": "offer-contact-options",
                "autocomplete": "off",
                "placeholder": _("Name, email or #id"),
            }
        ),
    )
    owner = UserChoiceField(label=_("Owner"), queryset=None, required=False, empty_label=_("— nobody —"))
    currency = forms.CharField(
        label=_("Currency"),
        max_length=3,
        min_length=3,
        initial="EUR",
        help_text=_("Three-letter code: EUR, CHF, USD…"),
    )

    def __init__(self, *args, offer: Offer | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = assignable_users(include_id=offer.owner_id if offer else None)
        self.fields["currency"].widget.attrs.update({"class": "input-short", "autocapitalize": "characters"})
        if offer is not None:
            del self.fields["contact"]
        else:
            self.fields["contact"].widget.attrs.update(
                {
                    "hx-get": reverse("offers:contact-options"),
                    "hx-trigger": "input changed delay:300ms",
                    "hx-target": "#offer-contact-options",
                    "hx-swap": "innerHTML",
                }
            )

    def service_kwargs(self) -> dict:
        data = dict(self.cleaned_data)
        data.pop("contact", None)
        return data


class OfferItemForm(forms.Form):
    product = ProductChoiceField(label=_("Product"), queryset=Product.objects.none(), required=False)
    quantity = forms.IntegerField(label=_("Quantity"), min_value=1, max_value=MAX_QUANTITY, required=False)
    unit_price = forms.DecimalField(
        label=_("Unit price"), max_digits=12, decimal_places=2, min_value=0, required=False
    )

    def __init__(self, *args, products=None, **kwargs):
        super().__init__(*args, **kwargs)
        if products is not None:
            self.fields["product"].queryset = products
        self.fields["product"].empty_label = _("Choose a product…")
        self.fields["quantity"].widget.attrs["class"] = "input-num"
        self.fields["unit_price"].widget.attrs.update({"class": "input-num", "placeholder": _("list price")})

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        if data.get("product") is None:
            if data.get("quantity") is not None or data.get("unit_price") is not None:
                self.add_error("product", _("Choose a product for this line, or clear it."))
        elif data.get("quantity") is None:
            self.add_error("quantity", _("Enter the quantity."))
        return data

    @property
    def is_blank(self) -> bool:
        data = getattr(self, "cleaned_data", {})
        return data.get("product") is None


class BaseOfferItemFormSet(forms.BaseFormSet):
    def lines(self) -> list[tuple]:
        """The non-blank, not removed lines as the service takes them."""
        lines = []
        for form in self.forms:
            if self.can_delete and self._should_delete_form(form):
                continue
            if not hasattr(form, "cleaned_data") or form.is_blank:
                continue
            data = form.cleaned_data
            lines.append((data["product"], data["quantity"], data.get("unit_price")))
        return lines


OfferItemFormSet = forms.formset_factory(
    OfferItemForm,
    formset=BaseOfferItemFormSet,
    extra=0,
    can_delete=True,
    max_num=MAX_ITEMS,
    absolute_max=MAX_ITEMS,
    validate_max=True,
)
ITEMS_PREFIX = "items"
BLANK_LINES = 2


def item_formset(data=None, *, offer: Offer | None = None, add: int = 0) -> BaseOfferItemFormSet:
    """The offer's lines as a formset: its lines (or blank ones for a new offer) plus ``add`` blank."""
    keep = set(offer.items.values_list("product_id", flat=True)) if offer is not None else set()
    products = product_choices(include_ids=keep)
    if data is not None:
        if add:
            data = data.copy()
            key = f"{ITEMS_PREFIX}-TOTAL_FORMS"
            total = data.get(key, "")
            if total.isdigit() and int(total) < MAX_ITEMS:
                data[key] = str(int(total) + add)
        return OfferItemFormSet(data, prefix=ITEMS_PREFIX, form_kwargs={"products": products})
    if offer is not None:
        initial = [
            {"product": item.product_id, "quantity": item.quantity, "unit_price": item.unit_price}
            for item in offer.items.all()
        ]
    else:
        initial = []
    formset_class = forms.formset_factory(
        OfferItemForm,
        formset=BaseOfferItemFormSet,
        extra=BLANK_LINES if not initial else 1,
        can_delete=True,
        max_num=MAX_ITEMS,
        absolute_max=MAX_ITEMS,
        validate_max=True,
    )
    return formset_class(initial=initial, prefix=ITEMS_PREFIX, form_kwargs={"products": products})


class OfferLoseForm(forms.Form):
    reason = forms.CharField(
        label=_("Why was it lost?"),
        max_length=LOST_REASON_MAX_LENGTH,
        widget=forms.TextInput(attrs={"placeholder": _("e.g. price, timing, went with a competitor")}),
    )


class OfferWinForm(forms.Form):
    decided_on = forms.DateField(
        label=_("Order received on"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Empty: today."),
    )

    def clean_decided_on(self):
        day = self.cleaned_data["decided_on"]
        if day is not None and day > timezone.localdate():
            raise forms.ValidationError(_("The order cannot be dated in the future."))
        return day

    def decided_at(self) -> datetime | None:
        return day_to_datetime(self.cleaned_data.get("decided_on"))


def day_to_datetime(day) -> datetime | None:
    """A day as a moment: now for today, else noon of that day (local time)."""
    if day is None or day == timezone.localdate():
        return None
    return timezone.make_aware(datetime.combine(day, time(12)))


# --- Filters and ownership ------------------------------------------------------------------------


class OfferFilterForm(forms.Form):
    """The offer list's filters. A value that is not understood is dropped (and named), not a 400."""

    search = forms.CharField(required=False, max_length=200, label=_("Search"))
    status = forms.ChoiceField(
        required=False, choices=[("", _("All statuses")), *Offer.Status.choices], label=_("Status")
    )
    owner = UserChoiceField(queryset=None, required=False, empty_label=_("All owners"), label=_("Owner"))
    product = ProductChoiceField(
        queryset=Product.objects.order_by("name", "id"),
        required=False,
        empty_label=_("All products"),
        label=_("Product"),
    )
    contact = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1, widget=forms.HiddenInput)
    company = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = assignable_users()

    def filters(self) -> dict:
        """The understood filters (an invalid one counts as not given)."""
        self.is_valid()
        data = {name: value for name, value in self.cleaned_data.items() if name not in self.errors}
        return {
            "search": (data.get("search") or "").strip(),
            "status": data.get("status") or "",
            "owner_id": data["owner"].pk if data.get("owner") else None,
            "product_id": data["product"].pk if data.get("product") else None,
            "contact_id": data.get("contact"),
            "company_id": data.get("company"),
        }

    @property
    def ignored(self) -> list[str]:
        return sorted(self.errors) if self.is_bound else []


class OwnershipForm(forms.Form):
    product = ProductChoiceField(
        label=_("Product"),
        queryset=Product.objects.order_by("name", "id"),
        empty_label=_("Choose a product…"),
    )
    since = forms.DateField(
        label=_("Owned since"),
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Not in the future."),
    )

    def clean_since(self):
        day = self.cleaned_data["since"]
        if day > timezone.localdate():
            raise forms.ValidationError(_("The date cannot be in the future."))
        return day

    def since_at(self) -> datetime:
        return day_to_datetime(self.cleaned_data["since"]) or timezone.now()
