from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path
from django.views.i18n import set_language
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

api_docs = SpectacularSwaggerSplitView.as_view(url_name="api-schema")

urlpatterns = [
    path("", include("funnel.urls")),
    path("", include("accounts.urls")),
    path("scoring/", include("scoring.urls")),
    path("notifications/", include("notifications.urls")),
    # Nurturing: its pages under nurturing/ and the public email links under n/ (one namespace).
    path("", include("nurturing.urls")),
    # Sales: my-day/ and tasks/.
    path("", include("sales.urls")),
    # Existing customers: the R/U/C detector's signals.
    path("customers/", include("customers.urls")),
    # Offers, the product catalogue and ownership.
    path("offers/", include("offers.urls")),
    # Personas, content blocks, the content map.
    path("content/", include("content.urls")),
    path("", include("analytics.urls")),
    path("audit/", include("audit.urls")),
    path("privacy/", include("privacy.urls")),
    path("imports/", include("imports.urls")),
    # Website tracking: its pages under tracking/ and the public collect endpoint t/collect/.
    path("", include("tracking.urls")),
    # Outbound webhooks (admins).
    path("webhooks/", include("webhooks.urls")),
    path("i18n/setlang/", set_language, name="set_language"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("config.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Swagger UI injects its styles at run time: the one page whose policy allows inline styles.
    path(
        "api/docs/",
        csp_update({"style-src": [UNSAFE_INLINE]})(api_docs),
        name="api-docs",
    ),
]

admin.site.site_header = "Trichter"
admin.site.site_title = "Trichter"
