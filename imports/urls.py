from django.urls import path

from imports import views

app_name = "imports"
urlpatterns = [
    path("", views.upload, name="upload"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/mapping/", views.mapping, name="mapping"),
    path("<int:pk>/resume/", views.retry, name="retry"),
    path("<int:pk>/rejected.csv", views.rejections_csv, name="rejections-csv"),
]
