from django.urls import path

app_name = "funnel"
urlpatterns: list = []
