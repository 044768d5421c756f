"""Reads of API keys, always scoped to the acting user."""

from django.http import Http404

from config.ids import id_or_404

from .models import ApiKey


def api_key_list(*, user):
    """The user's API keys that are not revoked (expired ones included, so they can be seen and removed),
    newest first."""
    return ApiKey.objects.owned_by(user).filter(revoked_at__isnull=True).order_by("-id")


def api_key_get(*, user, key_id) -> ApiKey:
    """The user's unrevoked API key ``key_id``; ``Http404`` if it does not exist, is revoked, is someone
    else's or is not an id (``config.ids``)."""
    row = api_key_list(user=user).filter(pk=id_or_404(key_id)).first()
    if row is None:
        raise Http404
    return row
