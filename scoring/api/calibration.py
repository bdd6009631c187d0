"""REST API of the scoring calibration (see :mod:`scoring.calibration`).

- ``GET /api/v1/scoring/calibration/?window_days=180`` — the report (every role).
- ``POST /api/v1/scoring/calibration/apply/`` — marketing and admin; body ``{"rules": ["engagement:12",
  "fit:3"]}`` (the ``key`` of report rows; engagement and fit rules have separate ids) or
  ``{"all": true}``, optionally ``"window_days"``. Sets the suggested points through
  ``scoring.rules`` (a rebuild of all scores follows). All or nothing; 400 for bad input.
"""

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from scoring import calibration
from scoring.api.views import CanEditScoringOrReadOnly

_WINDOW = {
    "min_value": calibration.WINDOW_MIN_DAYS,
    "max_value": calibration.WINDOW_MAX_DAYS,
    "default": calibration.WINDOW_DEFAULT_DAYS,
    "help_text": "Days between the cut-off and now (30–730).",
}


class WindowSerializer(serializers.Serializer):
    window_days = serializers.IntegerField(required=False, **_WINDOW)


class FeatureSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="`engagement:<id>`, `fit:<id>` or `event_type:<key>`.")
    kind = serializers.ChoiceField(choices=["engagement", "fit", "event_type"])
    label = serializers.CharField()
    rule_id = serializers.IntegerField(allow_null=True)
    event_type = serializers.CharField(help_text="Event type key (engagement rules, event types).")
    filtered = serializers.BooleanField(help_text="The rule has a topic or property filter.")
    current_points = serializers.IntegerField(allow_null=True)
    with_contacts = serializers.IntegerField()
    with_converters = serializers.IntegerField()
    without_contacts = serializers.IntegerField()
    without_converters = serializers.IntegerField()
    rate_with = serializers.FloatField(allow_null=True)
    rate_without = serializers.FloatField(allow_null=True)
    lift = serializers.FloatField(allow_null=True, help_text="rate_with / rate_without.")
    coefficient = serializers.FloatField(allow_null=True, help_text="Log-odds per log1p(count) or per match.")
    suggested_points = serializers.IntegerField(allow_null=True, help_text="Null: not enough data.")
    change = serializers.IntegerField(allow_null=True)
    note = serializers.CharField()


class ThresholdRowSerializer(serializers.Serializer):
    threshold = serializers.IntegerField()
    flagged = serializers.IntegerField()
    converted = serializers.IntegerField()
    precision = serializers.FloatField(allow_null=True)
    recall = serializers.FloatField(allow_null=True)
    current = serializers.BooleanField()


class ThresholdReportSerializer(serializers.Serializer):
    threshold = serializers.IntegerField()
    crossed = serializers.IntegerField()
    became_customers = serializers.IntegerField()
    precision = serializers.FloatField(allow_null=True)
    customers = serializers.IntegerField()
    missed = serializers.IntegerField()
    missed_share = serializers.FloatField(allow_null=True)
    auc_current = serializers.FloatField(allow_null=True)
    auc_model = serializers.FloatField(allow_null=True)
    auc_suggested = serializers.FloatField(allow_null=True)
    table = ThresholdRowSerializer(many=True)


class CalibrationReportSerializer(serializers.Serializer):
    window_days = serializers.IntegerField()
    cutoff = serializers.DateTimeField()
    now = serializers.DateTimeField()
    contacts = serializers.IntegerField()
    converters = serializers.IntegerField()
    base_rate = serializers.FloatField(allow_null=True)
    enough_history = serializers.BooleanField()
    message = serializers.CharField()
    scale = serializers.FloatField(allow_null=True)
    min_contacts = serializers.IntegerField()
    min_converters = serializers.IntegerField()
    min_support = serializers.IntegerField()
    min_support_converters = serializers.IntegerField()
    engagement = FeatureSerializer(many=True)
    fit = FeatureSerializer(many=True)
    event_types = FeatureSerializer(many=True)
    thresholds = ThresholdReportSerializer()


class ApplySerializer(serializers.Serializer):
    rules = serializers.ListField(
        child=serializers.CharField(max_length=50),
        required=False,
        allow_empty=False,
        max_length=1000,
        help_text="Keys of report rows (`engagement:<id>`, `fit:<id>`).",
    )
    all = serializers.BooleanField(required=False, default=False, help_text="Apply every suggestion.")
    window_days = serializers.IntegerField(required=False, **_WINDOW)

    def validate(self, attrs):
        if bool(attrs.get("rules")) == bool(attrs.get("all")):
            raise serializers.ValidationError(_("Send either “rules” (a list of rule keys) or “all”: true."))
        return attrs


class AppliedSerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    old_points = serializers.IntegerField()
    new_points = serializers.IntegerField()


class ApplyResultSerializer(serializers.Serializer):
    changed = AppliedSerializer(many=True)
    rebuild = serializers.BooleanField(help_text="A rebuild of all scores was requested.")


class CalibrationReportView(GenericAPIView):
    serializer_class = CalibrationReportSerializer
    permission_classes = [CanEditScoringOrReadOnly]
    filter_backends: list = []
    pagination_class = None

    @extend_schema(
        summary="Calibration report: lift and suggested points per rule, threshold precision/missed, AUC",
        description=(
            "Contacts that existed `window_days` ago and were not yet customers; outcome: became a "
            "customer since; features: their events before that cut-off and the fit rules. Computed on "
            "each request (seconds at a million contacts)."
        ),
        parameters=[OpenApiParameter("window_days", int, description="30–730, default 180.")],
    )
    def get(self, request):
        params = WindowSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        report = calibration.calibration_report(window_days=params.validated_data["window_days"])
        return Response(CalibrationReportSerializer(report.as_dict()).data)


class CalibrationApplyView(GenericAPIView):
    serializer_class = ApplySerializer
    permission_classes = [CanEditScoringOrReadOnly]
    filter_backends: list = []
    pagination_class = None

    @extend_schema(
        summary="Apply suggested points (marketing and admin)",
        description="All or nothing; the changed rules' scores are rebuilt.",
        request=ApplySerializer,
        responses=ApplyResultSerializer,
    )
    def post(self, request):
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            changed = calibration.calibration_apply(
                by=request.user,
                keys=data.get("rules"),
                apply_all=data["all"],
                window_days=data["window_days"],
            )
        except calibration.CalibrationError as exc:
            raise serializers.ValidationError({"rules": [str(exc)]}) from None
        return Response({"changed": changed, "rebuild": bool(changed)})
