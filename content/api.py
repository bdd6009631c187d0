"""REST API of personas, content blocks and the content map (conventions of ../shared/API.md)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from accounts import roles
from accounts.permissions import ReadOrEdit
from config.api import OptionalURLField, service_errors_as_400
from content import selectors, services
from content.hourglass import Phase
from content.models import ContentBlock, Persona
from funnel.api.views import ApiViewSet


class CanEditContentOrReadOnly(ReadOrEdit):
    capability = roles.EDIT_FUNNEL
    message = "Only marketing and admin may change personas and content."


class PersonaSerializer(serializers.ModelSerializer):
    class Meta:
        model = Persona
        fields = [
            "id",
            "name",
            "description",
            "pains",
            "goals",
            "roles",
            "industries",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]


class ContentBlockSerializer(serializers.ModelSerializer):
    url = OptionalURLField(max_length=500)
    topics = serializers.ListField(child=serializers.CharField(max_length=100), required=False, max_length=20)

    class Meta:
        model = ContentBlock
        fields = ["id", "title", "url", "format", "phase", "persona", "topics", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]


class _ServiceSaves:
    """Create and update through the services (they normalise and validate)."""

    save_service = None
    instance_argument = ""

    def perform_create(self, serializer):
        with service_errors_as_400():
            serializer.instance = type(self).save_service(**serializer.validated_data)

    def perform_update(self, serializer):
        with service_errors_as_400():
            serializer.instance = type(self).save_service(
                **{self.instance_argument: serializer.instance}, **serializer.validated_data
            )


@extend_schema_view(
    list=extend_schema(summary="Buyer personas"),
    create=extend_schema(summary="Create a persona (marketing and admin)"),
    retrieve=extend_schema(summary="One persona"),
    partial_update=extend_schema(summary="Change a persona (marketing and admin)"),
    destroy=extend_schema(summary="Delete a persona (its content stays, without a persona)"),
)
class PersonaViewSet(
    _ServiceSaves,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    ApiViewSet,
):
    serializer_class = PersonaSerializer
    permission_classes = [CanEditContentOrReadOnly]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    queryset = Persona.objects.order_by("name", "id")
    save_service = staticmethod(services.persona_save)
    instance_argument = "persona"

    def perform_destroy(self, instance):
        services.persona_delete(persona=instance)


@extend_schema_view(
    list=extend_schema(summary="Content blocks (filters: phase, persona)"),
    create=extend_schema(summary="Create a content block (marketing and admin)"),
    retrieve=extend_schema(summary="One content block"),
    partial_update=extend_schema(summary="Change a content block (marketing and admin)"),
    destroy=extend_schema(summary="Delete a content block (marketing and admin)"),
)
class ContentBlockViewSet(
    _ServiceSaves,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    ApiViewSet,
):
    serializer_class = ContentBlockSerializer
    permission_classes = [CanEditContentOrReadOnly]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    filterset_fields = ["phase", "persona"]
    queryset = ContentBlock.objects.order_by("phase", "title", "id")
    save_service = staticmethod(services.content_save)
    instance_argument = "block"

    def perform_destroy(self, instance):
        services.content_delete(block=instance)


class ContentMapCellSerializer(serializers.Serializer):
    phase = serializers.ChoiceField(choices=Phase.choices)
    stage = serializers.CharField()
    counts = serializers.DictField(
        child=serializers.IntegerField(), help_text='Persona id → content blocks; "none": for every persona.'
    )


class ContentMapView(GenericAPIView):
    serializer_class = ContentMapCellSerializer
    permission_classes = [CanEditContentOrReadOnly]
    filter_backends: list = []
    pagination_class = None

    @extend_schema(
        summary="The content map: content blocks per hourglass phase and persona",
        responses=ContentMapCellSerializer(many=True),
    )
    def get(self, request):
        personas, rows = selectors.content_map()
        keys = [str(p.pk) for p in personas] + ["none"]
        data = [
            {
                "phase": row.info.phase.value,
                "stage": row.info.stage,
                "counts": dict(zip(keys, row.cells, strict=True)),
            }
            for row in rows
        ]
        return Response(self.get_serializer(data, many=True).data)
