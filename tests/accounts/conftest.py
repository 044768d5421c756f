"""Helpers shared by the accounts tests."""

import pytest
from rest_framework.test import APIClient

OWNER_PASSWORD = "S3cure-pass-owner"


def login(client: APIClient, username: str = "owner", password: str = OWNER_PASSWORD) -> dict:
    res = client.post("/auth/login", {"username": username, "password": password}, format="json")
    assert res.status_code == 200, res.json()
    return res.json()


@pytest.fixture
def anon() -> APIClient:
    return APIClient()
