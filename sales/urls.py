"""Browser UI routes of the sales workspace (mounted at /tasks/)."""

from django.urls import path

from sales import views

app_name = "sales"
urlpatterns = [
    path("", views.task_list, name="task-list"),
    path("<int:pk>/done/", views.task_done, name="task-done"),
]
