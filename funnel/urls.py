"""Browser UI routes of the funnel app. Views live in funnel/views/, one module per page family."""

from funnel.views import companies, contacts, table

app_name = "funnel"
urlpatterns = [*table.urlpatterns, *contacts.urlpatterns, *companies.urlpatterns]
