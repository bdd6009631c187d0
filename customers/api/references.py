"""``/api/v1/references/``: the references customers gave (list, record, delete)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers

from accounts import roles
from config.api import OptionalURLField, service_errors_as_400
from customers.models import Reference
from customers.references import reference_create, reference_delete
from funnel.api.views import ApiViewSet
from funnel.models import Contact


class ReferenceSerializer(serializers.ModelSerializer):
    contact = serializers.PrimaryKeyRelatedField(queryset=Contact.objects.only("pk", "company_id"))
    link = OptionalURLField(max_length=500)

    class Meta:
        model = Reference
        fields = [
            "id",
            "contact",
            "company",
            "kind",
            "date",
            "link",
            "may_publish",
            "note",
            "created_by",
            "created_at",
        ]
        read_only_fields = ["id", "company", "created_by", "created_at"]


@extend_schema_view(
    list=extend_schema(summary="References (filters: contact, company, kind), newest first"),
    create=extend_schema(
        summary="Record a reference",
        description="Also recorded as activity (`referral` or `reference_given`), so the stage rules move "
        "the contact to the reference stage.",
    ),
    retrieve=extend_schema(summary="One reference"),
    destroy=extend_schema(summary="Delete a reference (who recorded it, or an admin)"),
)
class ReferenceViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    ApiViewSet,
):
    serializer_class = ReferenceSerializer
    filterset_fields = ["contact", "company", "kind"]
    http_method_names = ["get", "post", "delete", "head", "options"]
    queryset = Reference.objects.order_by("-date", "-id")

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        contact = data.pop("contact")
        with service_errors_as_400():
            serializer.instance = reference_create(contact=contact, by=self.request.user, **data)

    def perform_destroy(self, instance):
        if instance.created_by_id != self.request.user.pk and not roles.has_any(
            self.request.user, roles.MANAGE_USERS
        ):
            raise PermissionDenied
        reference_delete(reference=instance)
