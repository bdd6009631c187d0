"""REST API v1 endpoints of the sales workspace: ``/api/v1/tasks/`` (list, create, retrieve, change)
with ``complete`` and ``snooze``.

Every role reads every task and creates tasks; changing one (PATCH, complete, snooze) is for its owner
or an admin (403 for the others, before the body is looked at). Every write goes through
``sales.services``, whose ``ValidationError`` becomes a 400 naming the field (config.api).
"""

from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.response import Response

from accounts import roles
from funnel.api.views import ApiViewSet
from sales import services
from sales.api.filters import DEFAULT_TASK_ORDERING, TASK_ORDERINGS, TaskFilterSet
from sales.api.serializers import TaskSerializer, TaskSnoozeSerializer
from sales.models import Task


class CanChangeTask(BasePermission):
    """Every role reads tasks and creates them; a task's owner or an admin changes it."""

    message = gettext_lazy("Only the task's owner or an admin may change it.")

    def has_permission(self, request, view):
        return roles.has_any(request.user, roles.WORK_CONTACTS)

    def has_object_permission(self, request, view, obj):
        return request.method in SAFE_METHODS or services.can_change(task=obj, user=request.user)


@extend_schema_view(
    list=extend_schema(summary="Tasks, the most urgent first"),
    create=extend_schema(
        summary="Create a task",
        description="For you, or for an active sales user (who is notified).",
    ),
    retrieve=extend_schema(summary="One task"),
    partial_update=extend_schema(
        summary="Change a task (its owner or an admin)",
        description="A new `owner` hands the task on: only to an active sales user, who is notified. "
        "A completed task cannot be changed.",
    ),
)
class TaskViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    ApiViewSet,
):
    serializer_class = TaskSerializer
    filterset_class = TaskFilterSet
    permission_classes = [CanChangeTask]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        # Ids only (contact, owner): no joins needed for the list.
        return Task.objects.order_by(*TASK_ORDERINGS[DEFAULT_TASK_ORDERING])

    def perform_create(self, serializer):
        serializer.instance = services.task_create(by=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer):
        task = services.task_update(
            task=serializer.instance, by=self.request.user, **serializer.validated_data
        )
        serializer.instance = Task.objects.get(pk=task.pk)

    @extend_schema(
        summary="Complete a task (its owner or an admin)",
        description="Completing a completed task changes nothing (its first completion time stays).",
        request=None,
        responses={200: TaskSerializer},
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def complete(self, request, pk=None):
        task = services.task_complete(task=self.get_object(), by=request.user)
        return Response(self.get_serializer(Task.objects.get(pk=task.pk)).data)

    @extend_schema(
        summary="Snooze a task to a later time (its owner or an admin)",
        request=TaskSnoozeSerializer,
        responses={
            200: TaskSerializer,
            400: OpenApiResponse(description="Not a time in the future, or the task is completed."),
        },
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def snooze(self, request, pk=None):
        task = self.get_object()
        body = TaskSnoozeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        task = services.task_snooze(task=task, until=body.validated_data["until"], by=request.user)
        return Response(self.get_serializer(task).data)
