"""REST API v1 endpoints of scoring (../shared/API.md: Events, ``contacts/{id}/events|score``, and the
scoring configuration).

Thin views: ``events_ingest`` validates and stores events, ``scoring.rules`` makes every change to
the configuration (and asks for a rebuild where points change), ``scoring.selectors`` reads.
"""

from contextlib import contextmanager

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import (
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status
from rest_framework.exceptions import ParseError
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from accounts import roles
from accounts.permissions import ReadOrEdit
from funnel.api.views import ApiViewSet
from funnel.models import Contact
from scoring import rules, selectors
from scoring.api.serializers import (
    ContactScoreSerializer,
    EngagementRuleSerializer,
    EventBatchErrorsSerializer,
    EventBatchResultSerializer,
    EventInSerializer,
    EventSerializer,
    EventTypeSerializer,
    FitRuleSerializer,
    ScoringSettingsSerializer,
    StageRuleSerializer,
)
from scoring.ingest import MAX_BATCH, EventBatchInvalid, events_ingest
from scoring.models import EngagementRule, EventType, FitRule, ScoringSettings, StageRule


class CanEditScoringOrReadOnly(ReadOrEdit):
    capability = roles.EDIT_FUNNEL
    message = gettext_lazy("Only marketing and admin may change scoring.")


class EventsThrottle(ScopedRateThrottle):
    """Events have a budget of their own: an integration replaying a backlog sends many batches a
    second, and must neither be cut off by nor use up the per-user rate of people working in the UI.
    Falls back to the user rate where ``DEFAULT_THROTTLE_RATES["events"]`` is not configured."""

    def get_rate(self):
        return self.THROTTLE_RATES.get(self.scope) or self.THROTTLE_RATES.get("user")


@contextmanager
def model_errors_as_400():
    """A model's ``full_clean`` in a service rejects what the serializer could not know (``clean()``
    across fields, uniqueness races): a 400 naming the field, with DRF's ``non_field_errors`` for
    Django's ``__all__``."""
    try:
        yield
    except DjangoValidationError as exc:
        if hasattr(exc, "error_dict"):
            detail = {
                ("non_field_errors" if name == NON_FIELD_ERRORS else name): messages
                for name, messages in exc.message_dict.items()
            }
        else:
            detail = {"non_field_errors": exc.messages}
        raise serializers.ValidationError(detail) from None


# Events ------------------------------------------------------------------------------------------


def _batch_error(message: str) -> Response:
    return Response(
        {"detail": message, "errors": [{"index": None, "field": "non_field_errors", "message": message}]},
        status=status.HTTP_400_BAD_REQUEST,
    )


class EventIngestView(APIView):
    # Deliberately thin and serializer-free: parse, ``events_ingest``, respond. A batch of 1,000
    # costs a handful of queries in total, none per event.

    throttle_classes = [EventsThrottle]
    throttle_scope = "events"

    @extend_schema(
        summary="Send one event or a batch of up to 1,000",
        description=(
            "All or nothing: any invalid event rejects the batch (400, errors by index) and nothing is "
            "stored. An `id` already stored counts as a duplicate and stores nothing. Scores and "
            "automatic stage moves follow within seconds."
        ),
        request=PolymorphicProxySerializer(
            component_name="EventOrBatch",
            serializers=[EventInSerializer, EventInSerializer(many=True)],
            resource_type_field_name=None,
            many=False,
        ),
        responses={
            202: EventBatchResultSerializer,
            400: OpenApiResponse(EventBatchErrorsSerializer, description="Invalid event(s); nothing stored."),
        },
    )
    def post(self, request):
        try:
            payload = request.data
        except ParseError as exc:
            return _batch_error(str(exc.detail))
        if not isinstance(payload, dict | list):
            return _batch_error(
                _("Send one event (a JSON object) or a list of up to %(max)d.") % {"max": MAX_BATCH}
            )
        try:
            result = events_ingest(payload=payload)
        except EventBatchInvalid as exc:
            return Response({"errors": exc.errors}, status=status.HTTP_400_BAD_REQUEST)
        return Response(
            {"accepted": result.accepted, "duplicates": result.duplicates}, status=status.HTTP_202_ACCEPTED
        )


# A contact's events and score ----------------------------------------------------------------------


class ContactEventsView(GenericAPIView):
    serializer_class = EventSerializer
    queryset = Contact.objects.all()  # documents the path parameter; the lookup is below
    filter_backends: list = []

    @extend_schema(
        summary="The contact's activity events, newest first", responses=EventSerializer(many=True)
    )
    def get(self, request, pk):
        contact = get_object_or_404(Contact.objects.only("pk"), pk=pk)
        page = self.paginate_queryset(selectors.contact_events(contact=contact))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class ContactScoreView(GenericAPIView):
    serializer_class = ContactScoreSerializer
    queryset = Contact.objects.all()
    filter_backends: list = []
    pagination_class = None

    @extend_schema(
        summary="The contact's score, explained",
        description="Computed live: engagement decays with the configured half-life.",
    )
    def get(self, request, pk):
        contact = get_object_or_404(Contact.objects.only("pk"), pk=pk)
        return Response(selectors.contact_score(contact=contact))


# Configuration -----------------------------------------------------------------------------------


class ConfigViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    ApiViewSet,
):
    # Rules and event types: every role reads, marketing and admin write, through scoring.rules.
    # (A comment, not a docstring: drf-spectacular would show a docstring on every operation.)

    permission_classes = [CanEditScoringOrReadOnly]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    model: type = None

    def perform_create(self, serializer):
        with model_errors_as_400():
            serializer.instance = rules.rule_create(
                model=self.model, by=self.request.user, **serializer.validated_data
            )

    def perform_update(self, serializer):
        with model_errors_as_400():
            serializer.instance = rules.rule_update(
                instance=serializer.instance, by=self.request.user, **serializer.validated_data
            )

    def perform_destroy(self, instance):
        rules.rule_delete(instance=instance, by=self.request.user)


def _config_schema(noun: str, plural: str):
    return extend_schema_view(
        list=extend_schema(summary=f"{plural} (every role)"),
        create=extend_schema(summary=f"Create {noun} (marketing and admin)"),
        retrieve=extend_schema(summary=f"One {noun.split(' ', 1)[1]}"),
        partial_update=extend_schema(summary=f"Change {noun} (marketing and admin)"),
        destroy=extend_schema(summary=f"Delete {noun} (marketing and admin)"),
    )


@_config_schema("an event type", "Event types")
class EventTypeViewSet(ConfigViewSet):
    serializer_class = EventTypeSerializer
    model = EventType
    lookup_field = "key"
    lookup_value_regex = r"[-a-zA-Z0-9_]+"

    def get_queryset(self):
        return EventType.objects.order_by("key")

    def perform_destroy(self, instance):
        # scoring.rules decides; the API explains in the user's language.
        if instance.builtin:
            message = _("Built-in event types cannot be deleted: integrations send them.")
        elif instance.events.exists():
            message = _("This event type has events and cannot be deleted.")
        else:
            return super().perform_destroy(instance)
        raise serializers.ValidationError({"non_field_errors": [message]})


@_config_schema("an engagement rule", "Engagement rules")
class EngagementRuleViewSet(ConfigViewSet):
    serializer_class = EngagementRuleSerializer
    model = EngagementRule

    def get_queryset(self):
        return EngagementRule.objects.select_related("event_type").order_by("event_type__key", "name", "id")


@_config_schema("a fit rule", "Fit rules")
class FitRuleViewSet(ConfigViewSet):
    serializer_class = FitRuleSerializer
    model = FitRule

    def get_queryset(self):
        return FitRule.objects.order_by("attribute", "name", "id")


@_config_schema("a stage rule", "Stage rules")
class StageRuleViewSet(ConfigViewSet):
    serializer_class = StageRuleSerializer
    model = StageRule

    def get_queryset(self):
        return StageRule.objects.select_related("event_type", "from_stage", "to_stage").order_by(
            "to_stage__position", "id"
        )


class ScoringSettingsView(GenericAPIView):
    serializer_class = ScoringSettingsSerializer
    permission_classes = [CanEditScoringOrReadOnly]
    filter_backends: list = []
    pagination_class = None

    @extend_schema(summary="Scoring settings (half-life, sales threshold, fit grades)")
    def get(self, request):
        return Response(self.get_serializer(ScoringSettings.load()).data)

    @extend_schema(
        summary="Change scoring settings (marketing and admin)",
        description="A change of the half-life or the grades rebuilds all scores.",
    )
    def patch(self, request):
        serializer = self.get_serializer(ScoringSettings.load(), data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        with model_errors_as_400():
            instance = rules.settings_update(by=request.user, **serializer.validated_data)
        return Response(self.get_serializer(instance).data)
