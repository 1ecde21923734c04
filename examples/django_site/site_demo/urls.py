from django.urls import path

from pages import views

urlpatterns = [
    path("", views.home, name="home"),
    path("form/", views.form, name="form"),
    path("stream/", views.stream, name="stream"),
    path("download/", views.download, name="download"),
]
