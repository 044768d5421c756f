"""``/app/profile/``: the viewer chooses the time zone pages show times in (blank = the browser's)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils import timezone

from .models import Profile
from .time_zone import BROWSER_COOKIE, profile_set_time_zone, time_zone_choices


class ProfileForm(forms.Form):
    # A CharField with a select widget: the rule (an IANA name) is the service's, not the widget's.
    time_zone = forms.CharField(
        required=False,
        label="Time zone",
        help_text="Pages show times in this zone (UTC on hover). Empty: your browser's zone.",
        widget=forms.Select(choices=[("", "My browser's time zone")] + time_zone_choices()),
    )


@login_required
def profile_page(request):
    """GET/POST /app/profile/: store ``Profile.time_zone`` through ``profile_set_time_zone``."""
    current = Profile.objects.filter(user=request.user).values_list("time_zone", flat=True).first() or ""
    form = ProfileForm(request.POST if request.method == "POST" else None, initial={"time_zone": current})
    if request.method == "POST" and form.is_valid():
        try:
            profile_set_time_zone(user=request.user, time_zone=form.cleaned_data["time_zone"])
        except ValidationError as exc:
            for message in exc.message_dict.get("time_zone", exc.messages):
                form.add_error("time_zone", message)
        else:
            messages.success(request, "Time zone saved.")
            return redirect("profile")
    return render(
        request,
        "accounts/profile.html",
        {
            "form": form,
            "browser_zone": request.COOKIES.get(BROWSER_COOKIE, ""),
            "now": timezone.now(),
        },
    )
