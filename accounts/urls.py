from django.urls import re_path

from . import api

urlpatterns = [
    re_path(r"^register/?$", api.RegisterView.as_view(), name="auth-register"),
    re_path(r"^login/?$", api.LoginView.as_view(), name="auth-login"),
    re_path(r"^me/?$", api.MeView.as_view(), name="auth-me"),
]
