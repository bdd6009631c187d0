"""Browser UI routes of the privacy app (mounted at /privacy/)."""

from django.urls import path

from privacy import views

app_name = "privacy"
urlpatterns = [
    path("contacts/<int:pk>/personal-data.json", views.contact_export, name="contact-export"),
    path("contacts/<int:pk>/erase/", views.contact_erase, name="contact-erase"),
]
