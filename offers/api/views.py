"""REST API v1 endpoints of offers: ``/products/``, ``/offers/`` (with ``send``, ``win``, ``lose``)
and ``/ownerships/``.

Thin ViewSets: the serializers validate types, every write goes through ``offers.services`` (with the
requesting user as ``by``), whose ``ValidationError`` becomes a 400 naming the field. Every role reads
and works with offers and ownership; marketing and admin change the product catalogue.
"""

from contextlib import contextmanager

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts import roles
from accounts.permissions import ReadOrEdit
from config.api import service_errors_as_400
from funnel.api.views import ApiViewSet
from offers import selectors, services
from offers.api.filters import OfferFilterSet, OwnershipFilterSet, ProductFilterSet
from offers.api.serializers import (
    OfferLoseSerializer,
    OfferSerializer,
    OfferWinSerializer,
    OwnershipSerializer,
    ProductSerializer,
)
from offers.models import Product


class CanEditCatalogOrReadOnly(ReadOrEdit):
    capability = roles.EDIT_CATALOG
    message = gettext_lazy("Only marketing and admin may change the product catalogue.")


@contextmanager
def product_name_clash_as_400(name: str | None):
    """Two requests can race past the name check; the unique constraint then decides, and the loser
    gets the same 400 as any duplicate (not a 500)."""
    try:
        with transaction.atomic():
            yield
    except IntegrityError:
        if name is None or not Product.objects.filter(name=name.strip()).exists():
            raise
        raise serializers.ValidationError({"name": [_("A product with this name already exists.")]}) from None


class OffersViewSet(ApiViewSet):
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]


# Products ----------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Products of the catalogue, by name"),
    create=extend_schema(summary="Create a product (marketing and admin)"),
    retrieve=extend_schema(summary="One product"),
    partial_update=extend_schema(summary="Change a product (marketing and admin)"),
    destroy=extend_schema(
        summary="Delete a product (marketing and admin)",
        description="Refused (400) while offers or ownership records use it; set `active` false instead.",
    ),
)
class ProductViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    OffersViewSet,
):
    serializer_class = ProductSerializer
    filterset_class = ProductFilterSet
    permission_classes = [CanEditCatalogOrReadOnly]

    def get_queryset(self):
        return selectors.product_list()

    def _reload(self, product):
        return selectors.product_list().get(pk=product.pk)

    def perform_create(self, serializer):
        data = serializer.validated_data
        with service_errors_as_400(), product_name_clash_as_400(data.get("name")):
            product = services.product_save(topics=data.pop("topics", None), **data)
        serializer.instance = self._reload(product)

    def perform_update(self, serializer):
        data = serializer.validated_data
        with service_errors_as_400(), product_name_clash_as_400(data.get("name")):
            product = services.product_save(
                product=serializer.instance, topics=data.pop("topics", None), **data
            )
        serializer.instance = self._reload(product)

    def perform_destroy(self, instance):
        with service_errors_as_400():
            services.product_delete(product=instance)


# Offers ------------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Offers, newest first, with their lines and value"),
    create=extend_schema(
        summary="Create a draft offer",
        description="With at least one line; the company defaults to the contact's. Send it with `send`.",
    ),
    retrieve=extend_schema(summary="One offer"),
    partial_update=extend_schema(
        summary="Change a draft or open offer",
        description="`items` replaces all lines. Won and lost offers are records: 400.",
    ),
    destroy=extend_schema(summary="Delete a draft", description="Sent and decided offers: 400."),
)
class OfferViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    OffersViewSet,
):
    serializer_class = OfferSerializer
    filterset_class = OfferFilterSet

    def get_queryset(self):
        return selectors.offer_list(with_items=True)

    def _answer(self, offer):
        return Response(self.get_serializer(self._reload(offer)).data)

    def _reload(self, offer):
        return selectors.offer_detail_queryset().get(pk=offer.pk)

    def perform_create(self, serializer):
        contact = serializer.validated_data["contact"]
        with service_errors_as_400():
            offer = services.offer_create(
                contact=contact, by=self.request.user, **serializer.service_kwargs()
            )
        serializer.instance = self._reload(offer)

    def perform_update(self, serializer):
        with service_errors_as_400():
            offer = services.offer_update(
                offer=serializer.instance, by=self.request.user, **serializer.service_kwargs()
            )
        serializer.instance = self._reload(offer)

    def perform_destroy(self, instance):
        with service_errors_as_400():
            services.offer_delete(offer=instance, by=self.request.user)

    @extend_schema(
        summary="Send an offer",
        description="A draft becomes open (sent now). A suspect or lead becomes a prospect; a contact at "
        "prospect or later is not moved. Sending an open offer again changes nothing.",
        request=None,
        responses={200: OfferSerializer, 400: OpenApiResponse(description="The offer is won or lost.")},
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def send(self, request, pk=None):
        offer = self.get_object()
        with service_errors_as_400():
            offer = services.offer_send(offer=offer, by=request.user)
        return self._answer(offer)

    @extend_schema(
        summary="Win an offer (record the order)",
        description="The contact becomes a customer if it was before that stage, and owns the offer's "
        "products from `decided_at` on (a product owned already counts as a repeat purchase). Winning a "
        "won offer changes nothing.",
        request=OfferWinSerializer,
        responses={200: OfferSerializer, 400: OpenApiResponse(description="Lost offer, or a future date.")},
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def win(self, request, pk=None):
        offer = self.get_object()
        body = OfferWinSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        with service_errors_as_400():
            offer = services.offer_win(offer=offer, by=request.user, at=body.validated_data.get("decided_at"))
        return self._answer(offer)

    @extend_schema(
        summary="Lose an offer",
        description="The reason is required. Losing a lost offer changes nothing; a won offer: 400.",
        request=OfferLoseSerializer,
        responses={200: OfferSerializer, 400: OpenApiResponse(description="No reason, or a won offer.")},
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def lose(self, request, pk=None):
        offer = self.get_object()
        body = OfferLoseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        with service_errors_as_400():
            offer = services.offer_lose(offer=offer, by=request.user, reason=body.validated_data["reason"])
        return self._answer(offer)


# Ownership ---------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Who owns which product, the latest purchase first"),
    create=extend_schema(
        summary="Record that a contact owns a product",
        description="For purchases outside offers (won offers record ownership themselves). Recording "
        "an owned product again keeps the earliest `since`.",
    ),
    retrieve=extend_schema(summary="One ownership record"),
    destroy=extend_schema(summary="Delete an ownership record"),
)
class OwnershipViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    OffersViewSet,
):
    serializer_class = OwnershipSerializer
    filterset_class = OwnershipFilterSet
    http_method_names = ["get", "post", "delete", "head", "options"]

    def get_queryset(self):
        return selectors.ownership_list()

    def perform_create(self, serializer):
        data = serializer.validated_data
        with service_errors_as_400():
            serializer.instance = services.ownership_record(
                contact=data["contact"], product=data["product"], since=data["since"], by=self.request.user
            )

    def perform_destroy(self, instance):
        services.ownership_delete(ownership=instance, by=self.request.user)
