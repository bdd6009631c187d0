"""REST API of the imports: ``POST /api/v1/imports/`` (multipart: file, kind, mapping, dedup) → 202
with the queued job; ``GET /api/v1/imports/{id}/`` progress and report; ``GET
/api/v1/imports/{id}/rejections/`` the rejected rows, paginated. Marketing and admin only."""

from __future__ import annotations

import json

from django.db import transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import roles
from config.api import service_errors_as_400
from imports import selectors, services
from imports.models import MAX_UPLOAD_BYTES, ImportJob, ImportRejection


class CanImport(BasePermission):
    message = "Only marketing and admin may import."

    def has_permission(self, request, view):
        return roles.has_any(request.user, roles.EDIT_FUNNEL)


@extend_schema_field({"type": "string", "enum": ImportJob.Kind.values}, component_name="ImportKind")
class KindField(serializers.ChoiceField):
    """The kind of import, as its own schema component (other components have a "kind" enum too)."""

    def __init__(self, **kwargs):
        super().__init__(choices=ImportJob.Kind.choices, **kwargs)


class ImportCreateSerializer(serializers.Serializer):
    file = serializers.FileField(help_text=f"The CSV file, at most {MAX_UPLOAD_BYTES // 2**20} MB.")
    kind = KindField()
    mapping = serializers.CharField(
        required=False,
        help_text=(
            'JSON object: CSV column → field ("" ignores the column). Left out: suggested from the '
            "column names. Fields: contacts email, first_name, last_name, phone, job_title, company, "
            "stage, owner, source, tags, consent_email; companies name, domain, industry, employees; "
            "events external_id, type, email, contact, anonymous_id, occurred_at, topic."
        ),
    )
    dedup = serializers.ChoiceField(choices=ImportJob.Dedup.choices, default=ImportJob.Dedup.SKIP)

    def validate_file(self, value):
        if value.size > MAX_UPLOAD_BYTES:
            raise serializers.ValidationError(f"At most {MAX_UPLOAD_BYTES // 2**20} MB.")
        return value

    def validate_mapping(self, value):
        try:
            mapping = json.loads(value)
        except ValueError:
            raise serializers.ValidationError("A JSON object is required.") from None
        if not isinstance(mapping, dict):
            raise serializers.ValidationError("A JSON object is required.")
        return mapping


class ImportJobSerializer(serializers.ModelSerializer):
    kind = KindField(read_only=True)
    percent = serializers.IntegerField(read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "kind",
            "filename",
            "size",
            "encoding",
            "delimiter",
            "header",
            "mapping",
            "dedup",
            "state",
            "total_rows",
            "processed_rows",
            "percent",
            "created",
            "updated",
            "skipped",
            "rejected",
            "error",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class ImportRejectionSerializer(serializers.ModelSerializer):
    row = serializers.IntegerField(source="row_number", read_only=True)
    raw = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = ImportRejection
        fields = ["row", "reason", "raw"]
        read_only_fields = fields


class ImportCreateView(APIView):
    permission_classes = [CanImport]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        summary="Upload a CSV file and start its import",
        request={"multipart/form-data": ImportCreateSerializer},
        responses={202: ImportJobSerializer},
    )
    def post(self, request):
        data = ImportCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        upload = values["file"]
        with service_errors_as_400(), transaction.atomic():
            job = services.import_upload(
                kind=values["kind"], filename=upload.name, data=upload.read(), by=request.user
            )
            mapping = values.get("mapping", job.mapping)
            services.import_configure(job=job, mapping=mapping, dedup=values["dedup"])
            services.import_start(job=job)
        job = selectors.import_jobs().get(pk=job.pk)
        return Response(ImportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class ImportDetailView(generics.RetrieveAPIView):
    permission_classes = [CanImport]
    serializer_class = ImportJobSerializer

    def get_queryset(self):
        return selectors.import_jobs()


class ImportRejectionsView(generics.ListAPIView):
    permission_classes = [CanImport]
    serializer_class = ImportRejectionSerializer
    queryset = ImportRejection.objects.none()  # for the schema; get_queryset scopes by job

    def get_queryset(self):
        job = get_object_or_404(selectors.import_jobs(), pk=self.kwargs["pk"])
        return selectors.import_rejections(job=job)
