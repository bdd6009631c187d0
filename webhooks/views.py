"""Browser pages of webhooks (admins only): the list, create/edit with the secret and how to verify it,
a subscription's delivery log (HTMX-filtered by state) with redelivery and a test event. All writes go
through ``webhooks.services``."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from accounts import roles
from accounts.decorators import role_required
from config.web import add_service_errors, paginate, render_page
from webhooks import services
from webhooks.forms import SubscriptionForm
from webhooks.models import KINDS, Delivery, Subscription

KIND_LABELS = dict(KINDS)
STATES = dict(Delivery.State.choices)


@role_required(roles.MANAGE_USERS)
@require_GET
def subscription_list(request):
    subscriptions = list(Subscription.objects.select_related("owner").order_by("name", "id"))
    for subscription in subscriptions:
        subscription.kind_labels = [KIND_LABELS.get(k, k) for k in subscription.kinds]
    return render(request, "webhooks/list.html", {"subscriptions": subscriptions})


@role_required(roles.MANAGE_USERS)
@require_http_methods(["GET", "POST"])
def subscription_create(request):
    form = SubscriptionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            subscription = services.subscription_create(owner=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Webhook “%(name)s” created.") % {"name": subscription.name})
            return redirect("webhooks:detail", pk=subscription.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "webhooks/form.html", {"form": form, "subscription": None}, status=status)


@role_required(roles.MANAGE_USERS)
@require_http_methods(["GET", "POST"])
def subscription_edit(request, pk: int):
    subscription = get_object_or_404(Subscription, pk=pk)
    initial = {name: getattr(subscription, name) for name in ("name", "url", "kinds", "is_active")}
    form = SubscriptionForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.subscription_update(by=request.user, subscription=subscription, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Webhook saved."))
            return redirect("webhooks:detail", pk=subscription.pk)
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "subscription": subscription}
    return render(request, "webhooks/form.html", context, status=status)


@role_required(roles.MANAGE_USERS)
@require_GET
def subscription_detail(request, pk: int):
    subscription = get_object_or_404(Subscription.objects.select_related("owner"), pk=pk)
    return render_page(
        request, "webhooks/detail.html", "webhooks/_deliveries.html", _detail_context(request, subscription)
    )


def _detail_context(request, subscription: Subscription) -> dict:
    state = request.GET.get("state", "")
    if state not in STATES:
        state = ""
    deliveries = Delivery.objects.filter(subscription=subscription).order_by("-created_at", "-id")
    if state:
        deliveries = deliveries.filter(state=state)
    page = paginate(deliveries.defer("payload"), request.GET.get("page"))
    query = QueryDict(mutable=True)
    if state:
        query["state"] = state
    return {
        "subscription": subscription,
        "kind_labels": [KIND_LABELS.get(k, k) for k in subscription.kinds],
        "page": page,
        "page_query": query,
        "state": state,
        "states": list(STATES.items()),
    }


@role_required(roles.MANAGE_USERS)
@require_POST
def subscription_delete(request, pk: int):
    subscription = get_object_or_404(Subscription, pk=pk)
    services.subscription_delete(by=request.user, subscription=subscription)
    messages.success(request, _("Webhook “%(name)s” deleted.") % {"name": subscription.name})
    return _go(request, reverse("webhooks:list"))


@role_required(roles.MANAGE_USERS)
@require_POST
def subscription_test(request, pk: int):
    subscription = get_object_or_404(Subscription, pk=pk)
    try:
        services.webhook_send_test(subscription=subscription, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Test event queued; it appears in the delivery log."))
    return redirect("webhooks:detail", pk=pk)


@role_required(roles.MANAGE_USERS)
@require_POST
def subscription_rotate_secret(request, pk: int):
    subscription = get_object_or_404(Subscription, pk=pk)
    services.subscription_rotate_secret(by=request.user, subscription=subscription)
    messages.success(request, _("New secret created. Configure it at the receiver."))
    return _go(request, reverse("webhooks:detail", args=[pk]))


@role_required(roles.MANAGE_USERS)
@require_POST
def delivery_redeliver(request, pk: int, delivery_pk: int):
    subscription = get_object_or_404(Subscription, pk=pk)
    delivery = get_object_or_404(Delivery, pk=delivery_pk, subscription=subscription)
    try:
        services.delivery_redeliver(delivery=delivery)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        if not request.htmx:  # the fragment shows the row pending again
            messages.success(request, _("Delivery queued again."))
    if request.htmx:
        return render_page(
            request,
            "webhooks/detail.html",
            "webhooks/_deliveries.html",
            _detail_context(request, subscription),
        )
    return redirect("webhooks:detail", pk=pk)


def _go(request, url: str):
    """After a confirmed HTMX post (hx-confirm), the whole page changes; without JavaScript a redirect."""
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
