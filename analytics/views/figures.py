"""The analytics page: funnel figures, breakdowns, series and cohorts of a period."""

urlpatterns: list = []
