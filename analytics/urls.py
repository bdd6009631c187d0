"""Browser UI routes of the analytics app. Views live in analytics/views/, one module per page family."""

from analytics.views import figures, plans

app_name = "analytics"
urlpatterns = [*figures.urlpatterns, *plans.urlpatterns]
