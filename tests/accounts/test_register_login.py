from rest_framework.test import APIClient


def test_register_returns_user_and_tokens(db):
    client = APIClient()
    res = client.post(
        "/auth/register",
        {"username": "zoe", "password": "Tr1cky-pass-99", "email": "z@example.test"},
        format="json",
    )
    assert res.status_code == 201
    body = res.json()
    assert body["message"] == "User registered successfully"
    assert body["user"]["username"] == "zoe" and body["user"]["email"] == "z@example.test"
    assert isinstance(body["user"]["id"], int)
    assert body["accessToken"].count(".") == 2 and body["refreshToken"].count(".") == 2


def test_register_duplicate_username_is_409(db):
    client = APIClient()
    payload = {"username": "zoe", "password": "Tr1cky-pass-99"}
    assert client.post("/auth/register", payload, format="json").status_code == 201
    res = client.post("/auth/register", payload, format="json")
    assert res.status_code == 409
    assert res.json() == {"message": "username: a user with that username already exists", "errors": {}}


def test_register_weak_password_names_the_field(db):
    res = APIClient().post("/auth/register", {"username": "zoe", "password": "123"}, format="json")
    assert res.status_code == 400
    assert "password" in res.json()["errors"]


def test_login_shapes_and_bad_password(db, owner):
    client = APIClient()
    ok = client.post("/auth/login", {"username": "owner", "password": "S3cure-pass-owner"}, format="json")
    assert ok.status_code == 200
    assert set(ok.json()) == {"message", "accessToken", "refreshToken"}
    bad = client.post("/auth/login", {"username": "owner", "password": "nope"}, format="json")
    assert bad.status_code == 401
    assert bad.json()["message"] == "Invalid username or password"


def test_me_needs_a_token_and_works_with_one(db, owner):
    client = APIClient()
    assert client.get("/auth/me").status_code == 401
    token = client.post(
        "/auth/login", {"username": "owner", "password": "S3cure-pass-owner"}, format="json"
    ).json()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token['accessToken']}")
    res = client.get("/auth/me/")
    assert res.status_code == 200
    assert res.json() == {"id": owner.pk, "username": "owner", "email": "owner@example.test"}
