"""REST API v1 routes (../shared/API.md)."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from funnel.api.views import CompanyViewSet, ContactViewSet, StageViewSet
from nurturing.api.views import (
    ConsentWithdrawalView,
    EmailTemplateViewSet,
    EnrollmentViewSet,
    SequenceViewSet,
    StepViewSet,
)
from scoring.api.calibration import CalibrationApplyView, CalibrationReportView
from scoring.api.views import (
    ContactEventsView,
    ContactScoreView,
    EngagementRuleViewSet,
    EventIngestView,
    EventTypeViewSet,
    FitRuleViewSet,
    ScoringSettingsView,
    StageRuleViewSet,
)

router = DefaultRouter(trailing_slash=True)
router.register("stages", StageViewSet, basename="stage")
router.register("companies", CompanyViewSet, basename="company")
router.register("contacts", ContactViewSet, basename="contact")
router.register("event-types", EventTypeViewSet, basename="event-type")
router.register("scoring/engagement-rules", EngagementRuleViewSet, basename="engagement-rule")
router.register("scoring/fit-rules", FitRuleViewSet, basename="fit-rule")
router.register("scoring/stage-rules", StageRuleViewSet, basename="stage-rule")
router.register("email-templates", EmailTemplateViewSet, basename="email-template")
router.register("sequences", SequenceViewSet, basename="sequence")
router.register(r"sequences/(?P<sequence_id>[0-9]+)/steps", StepViewSet, basename="sequence-step")
router.register("enrollments", EnrollmentViewSet, basename="enrollment")

urlpatterns = [
    path("events/", EventIngestView.as_view(), name="events"),
    path("contacts/<int:pk>/events/", ContactEventsView.as_view(), name="contact-events"),
    path("contacts/<int:pk>/score/", ContactScoreView.as_view(), name="contact-score"),
    path("consent-withdrawals/", ConsentWithdrawalView.as_view(), name="consent-withdrawals"),
    path("scoring/settings/", ScoringSettingsView.as_view(), name="scoring-settings"),
    path("scoring/calibration/", CalibrationReportView.as_view(), name="scoring-calibration"),
    path("scoring/calibration/apply/", CalibrationApplyView.as_view(), name="scoring-calibration-apply"),
    *router.urls,
]
