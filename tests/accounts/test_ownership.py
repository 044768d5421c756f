"""Guards that make forgetting the owner filter hard: every model with an ``owner`` has an ``owned_by``
queryset that filters by it, and every admin of such a model scopes its list for non-superuser staff.
New apps' models (webhooks, ...) are covered as soon as they exist."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.test import RequestFactory

OWNED_MODELS = [
    m for m in apps.get_models() if any(f.name == "owner" and f.is_relation for f in m._meta.fields)
]


def test_the_owned_models_include_ours():
    names = {m._meta.label for m in OWNED_MODELS}
    assert {"accounts.ApiKey", "jobs.Job", "scheduling.Schedule"} <= names


@pytest.mark.parametrize("model", OWNED_MODELS, ids=[m._meta.label for m in OWNED_MODELS])
def test_owned_by_filters_by_owner(db, owner, other_user, model):
    owner_clause = str(model._default_manager.filter(owner=owner).query).split(" WHERE ")[1]
    assert owner_clause in str(model._default_manager.owned_by(owner).query)


ADMINS = [(m, a) for m, a in admin.site._registry.items() if m in OWNED_MODELS]


@pytest.mark.parametrize(("model", "model_admin"), ADMINS, ids=[m._meta.label for m, _ in ADMINS])
def test_admin_lists_are_scoped_for_staff(db, owner, admin_user, model, model_admin):
    owner.is_staff = True
    request = RequestFactory().get("/admin/")
    request.user = owner
    owner_clause = str(model._default_manager.filter(owner=owner).query).split(" WHERE ")[1]
    assert owner_clause in str(model_admin.get_queryset(request).query)
    request.user = admin_user
    assert owner_clause not in str(model_admin.get_queryset(request).query)
