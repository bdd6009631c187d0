"""Browser UI routes of the sales workspace (mounted at the site root: ``my-day/`` and ``tasks/``)."""

from django.urls import path

from sales import views

app_name = "sales"
urlpatterns = [
    path("my-day/", views.my_day, name="my-day"),
    path("tasks/", views.task_list, name="task-list"),
    path("tasks/<int:pk>/done/", views.task_done, name="task-done"),
    path("tasks/<int:pk>/snooze/", views.task_snooze, name="task-snooze"),
    path("tasks/<int:pk>/reassign/", views.task_reassign, name="task-reassign"),
    path("tasks/contacts/<int:pk>/", views.contact_tasks, name="contact-tasks"),
    path("tasks/contacts/<int:pk>/new/", views.contact_task_create, name="contact-task-create"),
]
