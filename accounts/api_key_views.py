"""``/app/api-keys/``: the user's API keys, a create form (the secret is shown once) and revoke buttons.

Thin: ``accounts.selectors`` reads (scoped to the signed-in user: another user's key is a 404),
``accounts.services.api_key_create`` / ``api_key_revoke`` write, as ``/auth/api-keys`` does.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from config.forms import add_service_errors

from . import selectors, services

SECRET_KEY = "api_key_once"
# Service error key (the API's JSON key) → form field.
ERROR_FIELDS = {"name": "name", "expiresAt": "expires_at"}


class ApiKeyForm(forms.Form):
    """``name`` and an optional ``expires_at``, typed in the viewer's time zone (the active zone)."""

    name = forms.CharField(max_length=100, help_text="What the key is for, e.g. “CI pipeline”.")
    expires_at = forms.DateTimeField(
        required=False,
        label="Expires",
        help_text="Optional, in your time zone. Empty: never expires.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    def create(self, *, owner):
        """``(row, raw_key)`` from ``api_key_create``, or ``None`` with the service's errors on the fields."""
        try:
            return services.api_key_create(
                owner=owner, name=self.cleaned_data["name"], expires_at=self.cleaned_data.get("expires_at")
            )
        except ValidationError as exc:
            add_service_errors(self, exc, ERROR_FIELDS)
        return None


@login_required
def api_key_list_page(request):
    """GET/POST /app/api-keys/: the user's unrevoked keys (newest first) and the create form."""
    form = ApiKeyForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        created = form.create(owner=request.user)
        if created is not None:
            row, raw = created
            # Handed to the next GET through the session and dropped there: shown exactly once.
            request.session[SECRET_KEY] = {"id": row.pk, "name": row.name, "key": raw}
            messages.success(request, f"API key “{row.name}” created.")
            return redirect("api-key-list-page")
    return render(
        request,
        "accounts/api_keys.html",
        {
            "keys": selectors.api_key_list(user=request.user),
            "form": form,
            "created": request.session.pop(SECRET_KEY, None),
            "mark": services.API_KEY_MARK,
        },
    )


@login_required
@require_POST
def api_key_revoke_page(request, key_id: str):
    """POST /app/api-keys/<id>/revoke/: the key stops working at once."""
    row = services.api_key_revoke(api_key=selectors.api_key_get(user=request.user, key_id=key_id))
    messages.success(request, f"API key “{row.name}” revoked.")
    return redirect("api-key-list-page")
