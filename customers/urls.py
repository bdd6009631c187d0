"""Browser UI routes of the customers app (mounted at /customers/): the R/U/C detector's signals,
references and delight occasions."""

from django.urls import path

from customers import reference_views, views

app_name = "customers"
urlpatterns = [
    path("signals/", views.signal_list, name="signal-list"),
    path("signals/settings/", views.detector_settings, name="detector-settings"),
    path("signals/<int:pk>/", views.signal_row, name="signal-row"),
    path("signals/<int:pk>/evidence/", views.signal_evidence, name="signal-evidence"),
    path("signals/<int:pk>/accept/", views.signal_accept, name="signal-accept"),
    path("signals/<int:pk>/dismiss/", views.signal_dismiss, name="signal-dismiss"),
    path("contacts/<int:pk>/signals/", views.contact_signals, name="contact-signals"),
    path("references/", reference_views.reference_list, name="reference-list"),
    path("consumption/", reference_views.consumption_list, name="consumption-list"),
    path("companies/<int:pk>/references/", reference_views.company_references, name="company-references"),
    path("references/<int:pk>/delete/", reference_views.reference_remove, name="reference-delete"),
    path("occasions/<int:pk>/delete/", reference_views.occasion_remove, name="occasion-delete"),
    path("contacts/<int:pk>/references/", reference_views.contact_references, name="contact-references"),
    path("contacts/<int:pk>/references/add/", reference_views.reference_add, name="reference-add"),
    path("contacts/<int:pk>/occasions/add/", reference_views.occasion_add, name="occasion-add"),
]
