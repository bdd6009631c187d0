"""REST API v1 endpoints of webhooks: ``/api/v1/webhooks/`` (CRUD, a test event) and
``/api/v1/webhooks/{id}/deliveries/`` (the delivery log, redelivery). Admins only (403 for the other
roles); every write goes through ``webhooks.services``."""

from functools import cached_property

import django_filters
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from accounts import roles
from config.api import service_errors_as_400
from funnel.api.views import ApiViewSet
from webhooks import services
from webhooks.api.serializers import DeliverySerializer, SubscriptionSerializer
from webhooks.models import Delivery, Subscription


class IsAdminRole(BasePermission):
    message = "Only admins manage webhooks."

    def has_permission(self, request, view):
        return roles.has_any(request.user, roles.MANAGE_USERS)


@extend_schema_view(
    list=extend_schema(summary="Webhook subscriptions"),
    create=extend_schema(
        summary="Create a webhook subscription",
        description="The response carries the generated signing `secret`.",
    ),
    retrieve=extend_schema(summary="One webhook subscription"),
    partial_update=extend_schema(
        summary="Change a webhook subscription",
        description="`is_active: true` re-activates a disabled subscription (its failure count is reset).",
    ),
    destroy=extend_schema(summary="Delete a webhook subscription and its delivery log"),
)
class WebhookViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    ApiViewSet,
):
    serializer_class = SubscriptionSerializer
    permission_classes = [IsAdminRole]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    lookup_value_regex = r"[0-9]+"

    def get_queryset(self):
        return Subscription.objects.order_by("name", "id")

    def perform_create(self, serializer):
        with service_errors_as_400():
            serializer.instance = services.subscription_create(
                owner=self.request.user, **serializer.validated_data
            )

    def perform_update(self, serializer):
        with service_errors_as_400():
            serializer.instance = services.subscription_update(
                by=self.request.user, subscription=serializer.instance, **serializer.validated_data
            )

    def perform_destroy(self, instance):
        services.subscription_delete(by=self.request.user, subscription=instance)

    @extend_schema(
        summary="Send a test event",
        description="Queues a `webhook.test` event to this subscription only.",
        request=None,
        responses={202: DeliverySerializer, 400: OpenApiResponse(description="The webhook is disabled.")},
    )
    @action(detail=True, methods=["post"], url_path="test", filter_backends=[])
    def send_test(self, request, pk=None):
        with service_errors_as_400():
            delivery = services.webhook_send_test(subscription=self.get_object(), by=request.user)
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class DeliveryFilterSet(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=Delivery.State.choices)

    class Meta:
        model = Delivery
        fields = ["state"]


@extend_schema_view(
    list=extend_schema(summary="A webhook's deliveries, newest first"),
    retrieve=extend_schema(summary="One delivery"),
)
@extend_schema(parameters=[OpenApiParameter("subscription_id", OpenApiTypes.INT, OpenApiParameter.PATH)])
class DeliveryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    serializer_class = DeliverySerializer
    permission_classes = [IsAdminRole]
    filterset_class = DeliveryFilterSet
    lookup_field = "delivery_id"
    lookup_value_regex = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

    @cached_property
    def subscription(self) -> Subscription:
        return get_object_or_404(Subscription.objects.all(), pk=self.kwargs["subscription_id"])

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no path arguments
            return Delivery.objects.none()
        return Delivery.objects.filter(subscription=self.subscription).order_by("-created_at", "-id")

    @extend_schema(
        summary="Deliver again now",
        description="Queues the delivery again at once, with the same delivery id and a fresh retry "
        "schedule.",
        request=None,
        responses={202: DeliverySerializer, 400: OpenApiResponse(description="The webhook is disabled.")},
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def redeliver(self, request, subscription_id=None, delivery_id=None):
        with service_errors_as_400():
            delivery = services.delivery_redeliver(delivery=self.get_object())
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
