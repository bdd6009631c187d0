"""REST API v1 endpoints of nurturing: email templates, sequences (with activate, deactivate, enroll),
their steps, and enrollments (with exit).

Thin ViewSets: the serializers validate types and resolve keys, every write goes through
``nurturing.services``, whose ``ValidationError`` becomes a 400 naming the field. Every role reads;
marketing and admin write.
"""

from contextlib import contextmanager

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Prefetch, ProtectedError, Q, Value
from django.db.models.functions import Lower
from django.shortcuts import get_object_or_404
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from accounts import roles
from accounts.permissions import ReadOrEdit
from config.api import service_errors_as_400
from funnel.api.views import ApiViewSet
from funnel.models import Contact
from nurturing import services
from nurturing.api.filters import EnrollmentFilterSet, SequenceFilterSet
from nurturing.api.serializers import (
    COUNT_ATTRIBUTES,
    EmailTemplateSerializer,
    EnrollmentSerializer,
    EnrollResultSerializer,
    EnrollSerializer,
    ProblemsSerializer,
    SequenceSerializer,
    StepMoveSerializer,
    StepSerializer,
)
from nurturing.models import ConsentChange, EmailTemplate, Enrollment, Sequence, Step


class CanEditSequencesOrReadOnly(ReadOrEdit):
    capability = roles.EDIT_SEQUENCES
    message = gettext_lazy("Only marketing and admin may change nurture sequences.")


@contextmanager
def name_clash_as_400(model, name: str | None):
    """The serializer refuses a taken name, but two requests can race past that check: the unique
    constraint then decides, and the loser gets the same 400 (not a 500)."""
    try:
        with transaction.atomic():
            yield
    except IntegrityError:
        if name is None or not model.objects.filter(name=name).exists():
            raise
        # The very message of the serializer's own uniqueness check (and Django's translation of it).
        field = model._meta.get_field("name")
        message = field.error_messages["unique"] % {
            "model_name": model._meta.verbose_name,
            "field_label": field.verbose_name,
        }
        raise serializers.ValidationError({"name": [message]}) from None


class NurturingViewSet(ApiViewSet):
    permission_classes = [CanEditSequencesOrReadOnly]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]


# Email templates ---------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Email templates, by name"),
    create=extend_schema(summary="Create an email template (marketing and admin)"),
    retrieve=extend_schema(summary="One email template"),
    partial_update=extend_schema(summary="Change an email template (marketing and admin)"),
    destroy=extend_schema(
        summary="Delete an email template (marketing and admin)",
        description="Refused (400) while steps use it.",
    ),
)
class EmailTemplateViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    NurturingViewSet,
):
    serializer_class = EmailTemplateSerializer

    def get_queryset(self):
        return EmailTemplate.objects.order_by("name", "id")

    def perform_create(self, serializer):
        with service_errors_as_400(), name_clash_as_400(EmailTemplate, serializer.validated_data.get("name")):
            serializer.instance = services.template_save(**serializer.validated_data)

    def perform_update(self, serializer):
        with service_errors_as_400(), name_clash_as_400(EmailTemplate, serializer.validated_data.get("name")):
            serializer.instance = services.template_save(
                template=serializer.instance, **serializer.validated_data
            )

    def perform_destroy(self, instance):
        try:
            with service_errors_as_400():
                services.template_delete(template=instance)
        except ProtectedError:  # a step started using it after the service looked
            raise serializers.ValidationError(
                {
                    "non_field_errors": [
                        _("This template is used by sequence steps; change those steps first.")
                    ]
                }
            ) from None


# Sequences ---------------------------------------------------------------------------------------


def sequence_queryset():
    """Sequences with everything the serializer shows, in two queries for any number of them: the
    enrollment counts by state as one aggregate, the steps (with their keys) prefetched."""
    steps = Step.objects.select_related("event_type", "stage", "tag").order_by("position")
    return (
        Sequence.objects.select_related("goal_stage", "trigger_stage", "trigger_event_type", "trigger_tag")
        .annotate(
            **{
                attribute: Count("enrollments", filter=Q(enrollments__state=state))
                for state, attribute in COUNT_ATTRIBUTES.items()
            }
        )
        .prefetch_related(Prefetch("steps", queryset=steps))
        .order_by("name", "id")
    )


@extend_schema_view(
    list=extend_schema(summary="Nurture sequences, by name"),
    create=extend_schema(summary="Create a sequence, inactive (marketing and admin)"),
    retrieve=extend_schema(summary="One sequence with its steps and enrollment counts"),
    partial_update=extend_schema(
        summary="Change a sequence's settings (marketing and admin)",
        description="A change that would leave an active sequence unable to run is refused.",
    ),
    destroy=extend_schema(
        summary="Delete an inactive sequence without active enrollments (marketing and admin)"
    ),
)
class SequenceViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    NurturingViewSet,
):
    serializer_class = SequenceSerializer
    filterset_class = SequenceFilterSet

    def get_queryset(self):
        return sequence_queryset()

    def _reload(self, sequence: Sequence) -> Sequence:
        return sequence_queryset().get(pk=sequence.pk)

    def perform_create(self, serializer):
        with service_errors_as_400(), name_clash_as_400(Sequence, serializer.validated_data.get("name")):
            sequence = services.sequence_save(by=self.request.user, **serializer.validated_data)
        serializer.instance = self._reload(sequence)

    def perform_update(self, serializer):
        with service_errors_as_400(), name_clash_as_400(Sequence, serializer.validated_data.get("name")):
            sequence = services.sequence_save(
                sequence=serializer.instance, by=self.request.user, **serializer.validated_data
            )
        serializer.instance = self._reload(sequence)

    def perform_destroy(self, instance):
        with service_errors_as_400():
            services.sequence_delete(by=self.request.user, sequence=instance)

    @extend_schema(
        summary="Activate a sequence (marketing and admin)",
        description="Triggers and manual enrollment start working. Refused with the list of problems "
        "when the sequence cannot run (no steps, a step missing what its kind needs, …).",
        request=None,
        responses={
            200: SequenceSerializer,
            400: OpenApiResponse(ProblemsSerializer, description="Why the sequence cannot run."),
        },
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def activate(self, request, pk=None):
        sequence = self.get_object()
        try:
            sequence = services.sequence_activate(by=self.request.user, sequence=sequence)
        except DjangoValidationError as exc:
            return Response({"problems": exc.messages}, status=status.HTTP_400_BAD_REQUEST)
        return Response(self.get_serializer(self._reload(sequence)).data)

    @extend_schema(
        summary="Deactivate a sequence (marketing and admin)",
        description="No new entries; active enrollments pause where they are and resume on activation.",
        request=None,
        responses={200: SequenceSerializer},
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def deactivate(self, request, pk=None):
        sequence = services.sequence_deactivate(by=self.request.user, sequence=self.get_object())
        return Response(self.get_serializer(self._reload(sequence)).data)

    @extend_schema(
        summary="Enroll contacts (marketing and admin)",
        description="Puts the contacts into the active sequence at its first step. Contacts already "
        "in it, excluded by its re-entry policy or unknown are skipped and listed.",
        request=EnrollSerializer,
        responses={
            200: EnrollResultSerializer,
            400: OpenApiResponse(description="Invalid ids, or the sequence is not active."),
        },
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def enroll(self, request, pk=None):
        # Without the counts: enrolling does not need them.
        sequence = get_object_or_404(Sequence.objects.all(), pk=pk)
        body = EnrollSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        with service_errors_as_400():
            result = services.enroll(
                sequence=sequence, contact_ids=body.validated_data["contacts"], by=request.user, manual=True
            )
        return Response(
            {
                "enrolled": result.enrolled,
                "already_enrolled": result.already,
                "not_again": result.not_again,
                "missing": result.missing,
            }
        )


# Steps -------------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="A sequence's steps, in position order"),
    create=extend_schema(
        summary="Add a step (marketing and admin)",
        description="Appended, or inserted at `position` (the steps from there on move down).",
    ),
    retrieve=extend_schema(summary="One step"),
    partial_update=extend_schema(summary="Change a step (marketing and admin)"),
    destroy=extend_schema(
        summary="Delete a step (marketing and admin)",
        description="Refused while contacts are on it or another step goes to it.",
    ),
)
@extend_schema(parameters=[OpenApiParameter("sequence_id", OpenApiTypes.INT, OpenApiParameter.PATH)])
class StepViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    NurturingViewSet,
):
    serializer_class = StepSerializer
    filter_backends: list = []
    # The service's name of the wait, and the API's.
    errors = {"wait": "wait_seconds"}

    @cached_property
    def sequence(self) -> Sequence:
        return get_object_or_404(Sequence.objects.all(), pk=self.kwargs["sequence_id"])

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authentication and permissions first
        if not getattr(self, "swagger_fake_view", False):
            self.sequence  # noqa: B018 — an unknown sequence is a 404 before the body is looked at

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no sequence
            return Step.objects.none()
        return (
            Step.objects.filter(sequence=self.sequence)
            .select_related("event_type", "stage", "tag")
            .order_by("position")
        )

    def _reload(self, step: Step) -> Step:
        return self.get_queryset().get(pk=step.pk)

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        position = data.pop("position", None)
        with service_errors_as_400(self.errors):
            step = services.step_save(by=self.request.user, sequence=self.sequence, position=position, **data)
        serializer.instance = self._reload(step)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("position", None)  # unchanged (the serializer refuses another)
        with service_errors_as_400(self.errors):
            step = services.step_save(
                by=self.request.user, sequence=self.sequence, step=serializer.instance, **data
            )
        serializer.instance = self._reload(step)

    def perform_destroy(self, instance):
        with service_errors_as_400(self.errors):
            services.step_delete(by=self.request.user, step=instance)

    @extend_schema(
        summary="Move a step to another position (marketing and admin)",
        description="The steps between shift by one. Refused when a branch would then go backwards.",
        request=StepMoveSerializer,
        responses={200: StepSerializer, 400: OpenApiResponse(description="Invalid position or move.")},
    )
    @action(detail=True, methods=["post"])
    def move(self, request, sequence_id=None, pk=None):
        step = self.get_object()
        body = StepMoveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        with service_errors_as_400(self.errors):
            step = services.step_move(
                by=self.request.user, step=step, position=body.validated_data["position"]
            )
        return Response(self.get_serializer(self._reload(step)).data)


# Enrollments -------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Enrollments, newest first"),
    retrieve=extend_schema(summary="One enrollment"),
)
class EnrollmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, NurturingViewSet):
    serializer_class = EnrollmentSerializer
    filterset_class = EnrollmentFilterSet
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):
        return Enrollment.objects.annotate(step_position=F("step__position")).order_by("-entered_at", "-id")

    @extend_schema(
        summary="End an enrollment by hand (marketing and admin)",
        request=None,
        responses={200: EnrollmentSerializer, 400: OpenApiResponse(description="It has already ended.")},
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def exit(self, request, pk=None):
        enrollment = self.get_object()
        with service_errors_as_400():
            services.enrollment_exit(enrollment=enrollment)
        return Response(self.get_serializer(self.get_queryset().get(pk=enrollment.pk)).data)


# Consent withdrawals (unsubscribes reported by other tools, hard bounces) ---------------------------


class ConsentWithdrawalSerializer(serializers.Serializer):
    REASONS = {
        "hard_bounce": ConsentChange.Source.HARD_BOUNCE,
        "unsubscribe": ConsentChange.Source.API,
        "complaint": ConsentChange.Source.API,
    }

    contact = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    email = serializers.EmailField(required=False, max_length=254)
    reason = serializers.ChoiceField(choices=sorted(REASONS))
    detail = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")

    def validate(self, attrs):
        if "contact" not in attrs and "email" not in attrs:
            raise serializers.ValidationError({"contact": [_("Give the contact's id or email.")]})
        contacts = Contact.objects.only("pk")
        if "contact" in attrs:
            contact = contacts.filter(pk=attrs["contact"]).first()
        else:
            same = Lower(Value(attrs["email"]))  # as the unique constraint compares
            contact = contacts.alias(email_lower=Lower("email")).filter(email_lower=same).first()
        if contact is None:
            raise NotFound(_("No such contact."))
        if "contact" in attrs and "email" in attrs:
            stored = Contact.objects.filter(pk=contact.pk).values_list("email", flat=True).first() or ""
            if stored.lower() != attrs["email"].lower():
                raise serializers.ValidationError({"email": [_("This is not the contact's email address.")]})
        attrs["contact_id"] = contact.pk
        return attrs


class ConsentWithdrawalResultSerializer(serializers.Serializer):
    contact = serializers.IntegerField()
    changed = serializers.BooleanField(help_text="False when consent had been withdrawn before.")


class ConsentWithdrawalView(GenericAPIView):
    """A mail provider's hard bounce or another tool's unsubscribe: the contact gets no more nurture
    emails, every active enrollment ends (reason *bounced* or *unsubscribed*), and the withdrawal is
    recorded with its source. Idempotent: a repeat answers ``changed: false``."""

    serializer_class = ConsentWithdrawalSerializer
    filter_backends: list = []
    pagination_class = None

    @extend_schema(
        summary="Record a hard bounce or an unsubscribe",
        responses={
            200: ConsentWithdrawalResultSerializer,
            400: OpenApiResponse(description="Invalid input."),
            404: OpenApiResponse(description="No such contact."),
        },
    )
    def post(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        changed = services.consent_withdraw(
            contact_id=data["contact_id"],
            source=ConsentWithdrawalSerializer.REASONS[data["reason"]],
            detail=f"{data['reason']}: {data['detail']}".rstrip(": "),
        )
        return Response({"contact": data["contact_id"], "changed": changed})
