"""Routes of the nurturing app, mounted at the site root: the browser pages under ``nurturing/`` and
the public links in nurture emails under ``n/`` (unsubscribe, click tracking). Both live in this one
URLconf so that all of them share the ``nurturing`` namespace."""

from django.urls import path

from nurturing import public_views, views

app_name = "nurturing"
urlpatterns = [
    # Public: the links in the emails (no login).
    path("n/u/<str:token>/", public_views.unsubscribe, name="unsubscribe"),
    path("n/c/<str:token>/", public_views.click, name="click"),
    # Sequences.
    path("nurturing/", views.sequence_list, name="sequence-list"),
    path("nurturing/sequences/new/", views.sequence_create, name="sequence-create"),
    path("nurturing/sequences/<int:pk>/", views.sequence_detail, name="sequence-detail"),
    path("nurturing/sequences/<int:pk>/settings/", views.sequence_edit, name="sequence-edit"),
    path("nurturing/sequences/<int:pk>/activate/", views.sequence_activate, name="sequence-activate"),
    path("nurturing/sequences/<int:pk>/deactivate/", views.sequence_deactivate, name="sequence-deactivate"),
    path("nurturing/sequences/<int:pk>/delete/", views.sequence_delete, name="sequence-delete"),
    path("nurturing/sequences/<int:pk>/enroll/", views.sequence_enroll, name="sequence-enroll"),
    path(
        "nurturing/sequences/<int:pk>/enroll-filtered/",
        views.sequence_enroll_filtered,
        name="sequence-enroll-filtered",
    ),
    # Steps of a sequence.
    path("nurturing/sequences/<int:pk>/steps/add/", views.step_add, name="step-add"),
    path("nurturing/steps/<int:pk>/", views.step_row, name="step-row"),
    path("nurturing/steps/<int:pk>/edit/", views.step_edit, name="step-edit"),
    path("nurturing/steps/<int:pk>/move/", views.step_move, name="step-move"),
    path("nurturing/steps/<int:pk>/delete/", views.step_delete, name="step-delete"),
    # Enrollments.
    path("nurturing/enrollments/<int:pk>/exit/", views.enrollment_exit, name="enrollment-exit"),
    path("nurturing/contacts/<int:pk>/enrollments/", views.contact_enrollments, name="contact-enrollments"),
    path("nurturing/contacts/options/", views.contact_options, name="contact-options"),
    # Email templates.
    path("nurturing/templates/", views.template_list, name="template-list"),
    path("nurturing/templates/new/", views.template_create, name="template-create"),
    path("nurturing/templates/<int:pk>/", views.template_edit, name="template-edit"),
    path("nurturing/templates/<int:pk>/delete/", views.template_delete, name="template-delete"),
    path("nurturing/templates/<int:pk>/preview/", views.template_preview, name="template-preview"),
    # The sales fast lane.
    path("nurturing/settings/", views.nurture_settings, name="settings"),
]
