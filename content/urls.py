from django.urls import path

from content import views

app_name = "content"
urlpatterns = [
    path("", views.content_map, name="map"),
    path("blocks/new/", views.block_edit, name="block-create"),
    path("blocks/<int:pk>/", views.block_edit, name="block-edit"),
    path("blocks/<int:pk>/delete/", views.block_delete, name="block-delete"),
    path("personas/", views.persona_list, name="persona-list"),
    path("personas/new/", views.persona_edit, name="persona-create"),
    path("personas/<int:pk>/", views.persona_edit, name="persona-edit"),
    path("personas/<int:pk>/delete/", views.persona_delete, name="persona-delete"),
]
