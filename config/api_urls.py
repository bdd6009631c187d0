"""REST API v1 routes (../shared/API.md)."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from analytics.api import FunnelFiguresView, FunnelPlanView
from content.api import ContentBlockViewSet, ContentMapView, PersonaViewSet
from customers.api.references import ReferenceViewSet
from customers.api.views import SignalViewSet
from funnel.api.views import CompanyViewSet, ContactViewSet, StageViewSet
from imports.api import ImportCreateView, ImportDetailView, ImportRejectionsView
from nurturing.api.views import (
    ConsentWithdrawalView,
    EmailTemplateViewSet,
    EnrollmentViewSet,
    SequenceViewSet,
    StepViewSet,
)
from offers.api.views import OfferViewSet, OwnershipViewSet, ProductViewSet
from privacy.api import ContactEraseView, ContactPersonalDataView
from sales.api.views import TaskViewSet
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
from webhooks.api.views import DeliveryViewSet, WebhookViewSet

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
router.register("personas", PersonaViewSet, basename="persona")
router.register("references", ReferenceViewSet, basename="reference")
router.register("content-blocks", ContentBlockViewSet, basename="content-block")
router.register("tasks", TaskViewSet, basename="task")
router.register("products", ProductViewSet, basename="product")
router.register("offers", OfferViewSet, basename="offer")
router.register("ownerships", OwnershipViewSet, basename="ownership")
router.register("signals", SignalViewSet, basename="signal")
router.register("webhooks", WebhookViewSet, basename="webhook")
router.register(
    r"webhooks/(?P<subscription_id>[0-9]+)/deliveries", DeliveryViewSet, basename="webhook-delivery"
)

urlpatterns = [
    path("funnel/", FunnelFiguresView.as_view(), name="funnel-figures"),
    path("funnel/plan/", FunnelPlanView.as_view(), name="funnel-plan"),
    path("events/", EventIngestView.as_view(), name="events"),
    path("contacts/<int:pk>/events/", ContactEventsView.as_view(), name="contact-events"),
    path("contacts/<int:pk>/score/", ContactScoreView.as_view(), name="contact-score"),
    path("contacts/<int:pk>/personal-data/", ContactPersonalDataView.as_view(), name="contact-personal-data"),
    path("contacts/<int:pk>/erase/", ContactEraseView.as_view(), name="contact-erase"),
    path("content-map/", ContentMapView.as_view(), name="content-map"),
    path("consent-withdrawals/", ConsentWithdrawalView.as_view(), name="consent-withdrawals"),
    path("scoring/settings/", ScoringSettingsView.as_view(), name="scoring-settings"),
    path("scoring/calibration/", CalibrationReportView.as_view(), name="scoring-calibration"),
    path("scoring/calibration/apply/", CalibrationApplyView.as_view(), name="scoring-calibration-apply"),
    path("imports/", ImportCreateView.as_view(), name="imports"),
    path("imports/<int:pk>/", ImportDetailView.as_view(), name="import-detail"),
    path("imports/<int:pk>/rejections/", ImportRejectionsView.as_view(), name="import-rejections"),
    *router.urls,
]
