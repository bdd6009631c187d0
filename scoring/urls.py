"""Browser UI routes of the scoring app (mounted at /scoring/)."""

from django.urls import path

from scoring import calibration_views, views

app_name = "scoring"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("settings/", views.settings_edit, name="settings"),
    path("rebuild/", views.rebuild_progress, name="rebuild"),
    path("calibration/", calibration_views.calibration_page, name="calibration"),
    path("calibration/apply/", calibration_views.calibration_apply, name="calibration-apply"),
    *[pattern for kind in views.KINDS for pattern in views.kind_urls(kind)],
]
