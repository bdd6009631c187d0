"""REST API v1 of the R/U/C detector: ``/api/v1/signals/`` (list, one signal, accept, dismiss) and
``/api/v1/signals/precision/``.

Every role reads signals. Deciding one goes through ``customers.services``: its owner or an admin
may (``PermissionDenied`` → 403), a decided signal or a bad choice is a ``ValidationError`` → 400
naming the field (config.api's exception handler). Nothing is stored from a refused request: the
services run in one transaction.
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.response import Response

from customers import selectors, services
from customers.api.filters import SignalFilterSet
from customers.api.serializers import (
    PrecisionSerializer,
    SignalAcceptSerializer,
    SignalDismissSerializer,
    SignalSerializer,
)
from customers.models import Signal
from funnel.api.views import ApiViewSet

REFUSALS = {
    400: OpenApiResponse(description="Invalid body, or the signal has been decided already."),
    403: OpenApiResponse(description="Only the signal's owner or an admin may decide it."),
    404: OpenApiResponse(description="No such signal."),
}


def _figures(figures) -> dict:
    return {
        "decided": figures.decided,
        "accepted": figures.accepted,
        "dismissed": figures.dismissed,
        "open": figures.open,
        "precision": figures.precision,
    }


@extend_schema_view(
    list=extend_schema(summary="Signals of the R/U/C detector, newest first"),
    retrieve=extend_schema(summary="One signal"),
)
class SignalViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    serializer_class = SignalSerializer
    filterset_class = SignalFilterSet
    lookup_value_regex = r"[0-9]+"
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):
        # Only the columns the serializer shows: the joined rows are not needed for ids.
        return Signal.objects.order_by("-created_at", "-id")

    def _answer(self, signal: Signal) -> Response:
        return Response(self.get_serializer(Signal.objects.get(pk=signal.pk)).data)

    @extend_schema(
        summary="Accept a signal (its owner or an admin)",
        description="`task` creates a call task for the owner, `offer` a draft offer for the product, "
        "`sequence` enrolls the contact in the given active sequence. The signal then links to it.",
        request=SignalAcceptSerializer,
        responses={200: SignalSerializer, **REFUSALS},
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def accept(self, request, pk=None):
        signal = self.get_object()
        body = SignalAcceptSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        signal = services.signal_accept(
            signal=signal,
            by=request.user,
            action=data["action"],
            sequence=data.get("sequence"),
            title=data["title"],
        )
        return self._answer(signal)

    @extend_schema(
        summary="Dismiss a signal with a reason (its owner or an admin)",
        request=SignalDismissSerializer,
        responses={200: SignalSerializer, **REFUSALS},
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def dismiss(self, request, pk=None):
        signal = self.get_object()
        body = SignalDismissSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        signal = services.signal_dismiss(signal=signal, by=request.user, reason=body.validated_data["reason"])
        return self._answer(signal)

    @extend_schema(
        summary="The detector's precision: accepted / (accepted + dismissed), overall and per kind",
        responses={200: PrecisionSerializer},
    )
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None)
    def precision(self, request):
        result = selectors.signal_precision()
        return Response(
            {**_figures(result), "by_kind": {kind: _figures(f) for kind, f in result.by_kind.items()}}
        )
