"""Routes of the tracking app (mounted at the root): its pages and the public collect endpoint."""

from django.urls import path

from tracking import collect, views

app_name = "tracking"
urlpatterns = [
    path("tracking/", views.site_list, name="site-list"),
    path("tracking/new/", views.site_edit, name="site-create"),
    path("tracking/<int:pk>/edit/", views.site_edit, name="site-edit"),
    path("tracking/<int:pk>/regenerate-key/", views.site_regenerate_key, name="site-regenerate-key"),
    path("tracking/<int:pk>/delete/", views.site_delete, name="site-delete"),
    path("t/collect/", collect.collect, name="collect"),
]
