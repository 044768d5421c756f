"""Reads of API keys, always scoped to the acting user."""

from config.errors import NotFoundError
from config.ids import id_or_404

from .models import ApiKey


def api_key_list(*, user, include_revoked: bool = False):
    """The user's API keys, newest first: those not revoked (expired ones included, so they can be
    seen and removed), or all of them with ``include_revoked`` (the API lists revoked keys with
    ``isActive: false``, as the original)."""
    qs = ApiKey.objects.owned_by(user)
    if not include_revoked:
        qs = qs.filter(revoked_at__isnull=True)
    return qs.order_by("-id")


def api_key_get(*, user, key_id, include_revoked: bool = False) -> ApiKey:
    """The user's API key ``key_id`` (unrevoked unless ``include_revoked``); ``NotFoundError`` if it does not
    exist, is someone else's, is not an id (``config.ids``), or is revoked and ``include_revoked`` is off."""
    row = api_key_list(user=user, include_revoked=include_revoked).filter(pk=id_or_404(key_id)).first()
    if row is None:
        raise NotFoundError
    return row
