"""Forms of the account pages: Django's auth forms; the rules stay in Django's validators and our services."""

from django import forms
from django.contrib.auth.forms import UserCreationForm


class RegisterForm(UserCreationForm):
    """Username, email (needed to reset a forgotten password), password twice."""

    email = forms.EmailField(required=True, help_text="Used only to reset a forgotten password.")

    class Meta(UserCreationForm.Meta):  # type: ignore[name-defined]  # django-stubs do not declare it
        fields = ("username", "email")
