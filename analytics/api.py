"""``GET /api/v1/funnel/`` and ``POST /api/v1/funnel/plan/`` (API.md, "Funnel figures")."""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from analytics.planning import PlanError, funnel_plan, rate_errors
from analytics.selectors import funnel_figures, refresh


class FiguresQuerySerializer(serializers.Serializer):
    since = serializers.DateField(required=False)
    until = serializers.DateField(required=False)

    def validate(self, attrs):
        if attrs.get("since") and attrs.get("until") and attrs["since"] > attrs["until"]:
            raise serializers.ValidationError({"until": ["Must not be before since."]})
        return attrs


class StageFiguresSerializer(serializers.Serializer):
    key = serializers.CharField()
    count = serializers.IntegerField(help_text="Contacts in the stage now.")
    entered = serializers.IntegerField(help_text="Contacts that entered it (or passed it) in the period.")
    conversion_to_next = serializers.FloatField(
        allow_null=True, help_text="Share of those who later entered the next stage (0–1)."
    )
    cumulative_conversion = serializers.FloatField(
        allow_null=True, help_text="The product of the earlier stages' conversion_to_next (1 for the first)."
    )
    median_days_in_stage = serializers.FloatField(
        allow_null=True,
        help_text="Of the period's arrivals in the stage that have passed the next one since.",
    )
    p90_days_in_stage = serializers.FloatField(allow_null=True, help_text="90th percentile of the same.")


class FiguresSerializer(serializers.Serializer):
    stages = StageFiguresSerializer(many=True)


class FunnelFiguresView(GenericAPIView):
    serializer_class = FiguresSerializer
    filter_backends: list = []
    pagination_class = None

    @extend_schema(
        summary="Funnel figures for a period",
        parameters=[
            OpenApiParameter(
                "since", str, description="First day (YYYY-MM-DD); default: a year before until."
            ),
            OpenApiParameter("until", str, description="Last day (YYYY-MM-DD), included; default: today."),
        ],
    )
    def get(self, request):
        query = FiguresQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        refresh()
        figures = funnel_figures(
            since=query.validated_data.get("since"), until=query.validated_data.get("until")
        )
        return Response(FiguresSerializer({"stages": [f.__dict__ for f in figures]}).data)


class PlanInSerializer(serializers.Serializer):
    revenue_goal = serializers.DecimalField(max_digits=18, decimal_places=2, min_value=Decimal("0.01"))
    average_order_value = serializers.DecimalField(max_digits=18, decimal_places=2, min_value=Decimal("0.01"))
    rates = serializers.DictField(child=serializers.FloatField(), required=False, default=dict)

    def validate_rates(self, rates):
        errors = rate_errors(rates)
        if errors:
            raise serializers.ValidationError(errors)
        return rates


class PlanStageSerializer(serializers.Serializer):
    key = serializers.CharField()
    required = serializers.IntegerField()


class PlanOutSerializer(serializers.Serializer):
    stages = PlanStageSerializer(many=True)


class FunnelPlanView(GenericAPIView):
    serializer_class = PlanInSerializer
    filter_backends: list = []
    pagination_class = None

    @extend_schema(
        summary="Plan backwards from a revenue goal",
        responses={
            200: PlanOutSerializer,
            400: OpenApiResponse(description="Invalid input, or a missing rate."),
        },
    )
    def post(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        refresh()  # measured rates stand in for missing ones
        try:
            stages = funnel_plan(**serializer.validated_data)
        except PlanError as exc:
            raise serializers.ValidationError({exc.field: [exc.message]}) from None
        return Response(PlanOutSerializer({"stages": [{"key": k, "required": n} for k, n in stages]}).data)
