"""REST API v1 endpoints of privacy: ``contacts/{id}/personal-data/`` and ``contacts/{id}/erase/``.

Admin only (roles.MANAGE_USERS), like the UI: the permission is checked before the lookup, so other
roles get 403 whether the contact exists or not.
"""

from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from accounts import roles
from audit.services import audit_export
from funnel.models import Contact
from privacy import selectors, services
from privacy.models import ErasureRecord


class CanManagePersonalData(BasePermission):
    message = _("Only admins may export or erase a contact's personal data.")

    def has_permission(self, request, view):
        return roles.has_any(request.user, roles.MANAGE_USERS)


class EraseInSerializer(serializers.Serializer):
    reason = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=services.REASON_MAX_LENGTH
    )


class ErasureRecordSerializer(serializers.ModelSerializer):
    class Meta:
        model = ErasureRecord
        fields = ["id", "contact_id", "email_hash", "erased_at", "by", "reason", "counts"]
        read_only_fields = fields


class ContactPersonalDataView(GenericAPIView):
    permission_classes = [CanManagePersonalData]
    queryset = Contact.objects.all()
    filter_backends: list = []
    pagination_class = None

    @extend_schema(
        summary="Everything held on one contact (GDPR export)",
        description="Grouped by kind: contact, company, tags, stage history, events, scores, "
        "enrollments with step runs, emails, consent changes, tasks, offers, ownerships, consumption, "
        "signals, references, occasions, notifications. Admin only.",
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT, description="The contact's personal data."),
            403: OpenApiResponse(description="Not an admin."),
            404: OpenApiResponse(description="No such contact."),
        },
    )
    def get(self, request, pk):
        contact = get_object_or_404(Contact.objects.only("pk"), pk=pk)
        data = selectors.contact_data(contact)
        audit_export(actor=request.user, what="api:personal_data.json", contact_id=pk)
        return Response(data)


class ContactEraseView(GenericAPIView):
    permission_classes = [CanManagePersonalData]
    serializer_class = EraseInSerializer
    queryset = Contact.objects.all()
    filter_backends: list = []
    pagination_class = None

    @extend_schema(
        summary="Erase a contact (GDPR)",
        description="Deletes the contact and their personal data, keeps their events and emails "
        "anonymised (so counts stay) and logs the erasure without personal data. `reason` is "
        "optional. A second erasure of the same id is a 404. Admin only.",
        request=EraseInSerializer,
        responses={
            200: ErasureRecordSerializer,
            400: OpenApiResponse(description="Invalid input."),
            403: OpenApiResponse(description="Not an admin."),
            404: OpenApiResponse(description="No such contact (or already erased)."),
        },
    )
    def post(self, request, pk):
        contact = get_object_or_404(Contact.objects.only("pk"), pk=pk)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            record = services.contact_erase(
                contact=contact, by=request.user, reason=serializer.validated_data["reason"]
            )
        except Contact.DoesNotExist:
            raise Http404 from None
        return Response(ErasureRecordSerializer(record).data)
