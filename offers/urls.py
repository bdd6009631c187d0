"""Browser UI routes of offers (mounted at /offers/): offers, the product catalogue, and the sections
of the contact and company pages."""

from django.urls import path

from offers import views

app_name = "offers"
urlpatterns = [
    path("", views.offer_list, name="offer-list"),
    path("new/", views.offer_create, name="offer-create"),
    path("<int:pk>/", views.offer_detail, name="offer-detail"),
    path("<int:pk>/edit/", views.offer_edit, name="offer-edit"),
    path("<int:pk>/send/", views.offer_send, name="offer-send"),
    path("<int:pk>/win/", views.offer_win, name="offer-win"),
    path("<int:pk>/lose/", views.offer_lose, name="offer-lose"),
    path("<int:pk>/delete/", views.offer_delete, name="offer-delete"),
    path("contacts/options/", views.contact_options, name="contact-options"),
    # The contact page's and company page's sections, and the ownership records they manage.
    path("contacts/<int:pk>/", views.contact_section, name="contact-section"),
    path("contacts/<int:pk>/ownerships/", views.ownership_record, name="ownership-record"),
    path("ownerships/<int:pk>/delete/", views.ownership_delete, name="ownership-delete"),
    path("companies/<int:pk>/", views.company_section, name="company-section"),
    # The product catalogue.
    path("products/", views.product_list, name="product-list"),
    path("products/new/", views.product_create, name="product-create"),
    path("products/<int:pk>/", views.product_edit, name="product-edit"),
    path("products/<int:pk>/delete/", views.product_delete, name="product-delete"),
]
