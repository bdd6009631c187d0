"""REST API v1 endpoints of the funnel (../shared/API.md: Stages, Companies, Contacts).

Thin ViewSets: the serializers validate, every write goes through ``funnel.services`` (with the
requesting user as ``by``), every read starts from ``funnel.selectors``.
"""

from contextlib import contextmanager

from django.db import IntegrityError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.permissions import CanEditFunnelOrReadOnly
from audit.services import audit_export
from funnel import selectors, services
from funnel.api.filters import CompanyFilterSet, ContactFilterSet
from funnel.api.serializers import (
    EMAIL_TAKEN,
    CompanySerializer,
    ContactMoveSerializer,
    ContactSerializer,
    StageSerializer,
    StageTransitionSerializer,
)
from funnel.exports import contact_export_response


class ApiViewSet(viewsets.GenericViewSet):
    # Ids are numbers: anything else in the id's place of a path is a 404 at routing, never a
    # ValueError in a lookup (found by the schemathesis run: /sequences/null,null/enroll/ was a 500).
    lookup_value_regex = r"[0-9]+"

    def filter_queryset(self, queryset):
        # Query filters belong to lists. DRF would also run them in get_object(), so that
        # "/contacts/5/?stage=lead" turned into a 404 (or a 400) for a contact in another stage.
        if self.action not in ("list", "export"):
            return queryset
        return super().filter_queryset(queryset)


@contextmanager
def email_clash_as_400():
    """The serializer refuses a taken email, but two requests can race past that check; the
    database constraint then decides, and the loser gets the same 400 as any duplicate."""
    try:
        yield
    except IntegrityError as exc:
        if "contact_email_ci_unique" not in str(exc):
            raise
        raise serializers.ValidationError({"email": [EMAIL_TAKEN]}) from None


# Stages ------------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="The funnel's stages, in order"),
    retrieve=extend_schema(summary="One stage"),
    partial_update=extend_schema(summary="Change a stage's name or texts (marketing and admin only)"),
)
class StageViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, ApiViewSet):
    serializer_class = StageSerializer
    permission_classes = [CanEditFunnelOrReadOnly]
    lookup_field = "key"
    lookup_value_regex = r"[-a-zA-Z0-9_]+"
    # The stages are the funnel itself: created by a migration, never through the API.
    http_method_names = ["get", "patch", "head", "options"]

    def get_queryset(self):
        return selectors.stage_list()

    def get_object(self):
        stage = super().get_object()
        stage.contact_count = selectors.stage_contact_counts().get(stage.pk, 0)
        return stage

    def list(self, request, *args, **kwargs):
        # The same selector as the funnel table: stages plus their live counts, two queries.
        page = self.paginate_queryset(selectors.stage_list_with_counts())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def perform_update(self, serializer):
        count = serializer.instance.contact_count
        serializer.instance = services.stage_update_texts(
            stage=serializer.instance, **serializer.validated_data
        )
        serializer.instance.contact_count = count


# Companies ---------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Companies, by name"),
    create=extend_schema(summary="Create a company"),
    retrieve=extend_schema(summary="One company"),
    partial_update=extend_schema(summary="Change a company"),
    destroy=extend_schema(summary="Delete a company (its contacts stay, without company)"),
)
class CompanyViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    ApiViewSet,
):
    serializer_class = CompanySerializer
    filterset_class = CompanyFilterSet
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        # The API does not show contact counts; counting would group the whole contacts table.
        return selectors.company_list(with_contact_counts=False)

    def perform_create(self, serializer):
        serializer.instance = services.company_create(**serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = services.company_update(
            company=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance):
        services.company_delete(company=instance, by=self.request.user)


# Contacts ----------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Contacts, filtered and ordered"),
    create=extend_schema(summary="Create a contact (records its entry into the funnel)"),
    retrieve=extend_schema(summary="One contact"),
    partial_update=extend_schema(summary="Change a contact; a new `stage` records a transition"),
    destroy=extend_schema(summary="Delete a contact"),
)
class ContactViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    ApiViewSet,
):
    serializer_class = ContactSerializer
    filterset_class = ContactFilterSet
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return selectors.contact_queryset()

    def perform_create(self, serializer):
        with email_clash_as_400():
            serializer.instance = services.contact_create(by=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer):
        with email_clash_as_400():
            serializer.instance = services.contact_update(
                contact=serializer.instance, by=self.request.user, **serializer.validated_data
            )

    def perform_destroy(self, instance):
        services.contact_delete(contact=instance, by=self.request.user)

    def perform_content_negotiation(self, request, force=False):
        # The export answers text/csv itself (a streamed response, not rendered by DRF); a client that
        # asks for text/csv only must still get its errors (400, 401, 403) as JSON rather than a 406.
        return super().perform_content_negotiation(request, force=force or self.action == "export")

    @extend_schema(
        summary="The filtered contacts as a CSV file",
        description=(
            "All contacts matching the list's filters, in the list's order, unpaginated and streamed: "
            "UTF-8 with BOM, one header row (`id`, `email`, `first_name`, `last_name`, `company` name, "
            "`job_title`, `phone`, `stage` key, `owner` username, `source`, `persona` name, `score`, "
            "`fit_score`, `engagement_score`, `tags` joined with `;`, `consent_email`, `created_at`). "
            "Text cells a spreadsheet could read as a formula start with `'`. "
            "Invalid filter values are a 400 (JSON) like on the list."
        ),
        filters=True,  # not a list response, so drf-spectacular would leave the filters out
        responses={
            (200, "text/csv"): OpenApiTypes.STR,
            400: OpenApiResponse(description="Invalid filter value (JSON, naming the parameter)."),
        },
    )
    @action(detail=False, methods=["get"], url_path="export", pagination_class=None)
    def export(self, request):
        contacts = self.filter_queryset(self.get_queryset())
        audit_export(actor=request.user, what="api:contacts.csv", params=request.query_params)
        return contact_export_response(contacts)

    @extend_schema(
        summary="Move a contact to a stage",
        description="Records a stage transition; moving to the current stage records nothing.",
        request=ContactMoveSerializer,
        responses={200: ContactSerializer, 400: OpenApiResponse(description="Unknown or missing stage.")},
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def move(self, request, pk=None):
        contact = self.get_object()
        move = ContactMoveSerializer(data=request.data)
        move.is_valid(raise_exception=True)
        services.contact_move_stage(contact=contact, by=request.user, **move.validated_data)
        return Response(self.get_serializer(contact).data)

    @extend_schema(
        summary="The contact's stage history, oldest first",
        responses=StageTransitionSerializer(many=True),
    )
    # No filter_backends: the contact filters do not apply here (and must not be documented here).
    @action(detail=True, methods=["get"], serializer_class=StageTransitionSerializer, filter_backends=[])
    def transitions(self, request, pk=None):
        contact = self.get_object()
        page = self.paginate_queryset(selectors.contact_transitions(contact=contact))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)
