"""API key admin: staff who are not superusers see only their own keys; keys are never added there."""

from django.contrib.auth.models import Permission
from django.test import Client

from accounts import services


def test_staff_sees_only_own_keys_and_superuser_sees_all(db, owner, other_user, admin_user):
    services.api_key_create(owner=owner, name="owner-key")
    services.api_key_create(owner=other_user, name="other-key")
    owner.is_staff = True
    owner.save()
    owner.user_permissions.add(*Permission.objects.filter(codename__in=["view_apikey", "change_apikey"]))
    staff = Client()
    staff.force_login(owner)
    page = staff.get("/admin/accounts/apikey/").content.decode()
    assert "owner-key" in page and "other-key" not in page
    superuser = Client()
    superuser.force_login(admin_user)
    page = superuser.get("/admin/accounts/apikey/").content.decode()
    assert "owner-key" in page and "other-key" in page
    assert superuser.get("/admin/accounts/apikey/add/").status_code == 403


def test_admin_revoke_action(db, owner, admin_user):
    row, raw = services.api_key_create(owner=owner, name="ci")
    client = Client()
    client.force_login(admin_user)
    res = client.post("/admin/accounts/apikey/", {"action": "revoke", "_selected_action": [row.pk]})
    assert res.status_code == 302
    row.refresh_from_db()
    assert row.revoked_at is not None
    assert services.user_for_api_key(raw) is None
