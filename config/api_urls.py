"""REST API v1 routes (../shared/API.md)."""

from rest_framework.routers import DefaultRouter

from funnel.api.views import CompanyViewSet, ContactViewSet, StageViewSet

router = DefaultRouter(trailing_slash=True)
router.register("stages", StageViewSet, basename="stage")
router.register("companies", CompanyViewSet, basename="company")
router.register("contacts", ContactViewSet, basename="contact")

urlpatterns = router.urls
