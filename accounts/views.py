"""Account pages: sign in / out, register, password reset (Django's auth views with our templates, CSRF on).

Logins, registrations and reset requests are throttled with the API's scopes, so a form is no way
around the API's limits.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.generic import FormView

from config.forms import add_service_errors

from . import services
from .forms import RegisterForm
from .throttling import throttle_wait


class ThrottledPostMixin:
    """Count every POST against ``throttle_scope``; over the rate → 429 page with ``Retry-After``."""

    throttle_scope = ""

    def dispatch(self, request, *args, **kwargs):
        if request.method == "POST":
            wait = throttle_wait(request, self.throttle_scope)
            if wait is not None:
                response = render(request, "accounts/throttled.html", {"wait": wait}, status=429)
                response["Retry-After"] = str(wait)
                return response
        return super().dispatch(request, *args, **kwargs)


class LoginView(ThrottledPostMixin, auth_views.LoginView):
    """GET/POST /login/: username + password; then ``next`` or ``LOGIN_REDIRECT_URL`` ("/")."""

    throttle_scope = "login"
    redirect_authenticated_user = True


class RegisterView(ThrottledPostMixin, FormView):
    """GET/POST /register/: ``accounts.services.user_register`` (the API's rule), then signed in, to "/"."""

    throttle_scope = "register"
    form_class = RegisterForm
    template_name = "accounts/register.html"
    success_url = settings.LOGIN_REDIRECT_URL

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            return redirect(self.success_url)
        return super().dispatch(request, *args, **kwargs)

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            user = services.user_register(
                username=data["username"], password=data["password1"], email=data["email"]
            )
        except services.UsernameTaken:
            form.add_error("username", "A user with that username already exists.")
            return self.form_invalid(form)
        except ValidationError as exc:
            add_service_errors(form, exc, {"password": "password1", "username": "username", "email": "email"})
            return self.form_invalid(form)
        login(self.request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(self.request, f"Welcome, {user.username}.")
        return redirect(self.get_success_url())


class PasswordResetView(ThrottledPostMixin, auth_views.PasswordResetView):
    """GET/POST /password-reset/: the same mail as POST /auth/request-password-reset."""

    throttle_scope = "password_reset"
    subject_template_name = services.RESET_SUBJECT_TEMPLATE
    email_template_name = services.RESET_EMAIL_TEMPLATE
    success_url = reverse_lazy("password_reset_done")


class PasswordResetConfirmView(ThrottledPostMixin, auth_views.PasswordResetConfirmView):
    """GET/POST /password-reset/<uidb64>/<token>/: choose a new password (the link in the mail)."""

    throttle_scope = "password_reset_confirm"
    success_url = reverse_lazy("password_reset_complete")

    def form_valid(self, form):
        response = super().form_valid(form)
        services.credentials_revoke_all(user=form.user)  # as the API's reset: tokens and API keys end
        return response
