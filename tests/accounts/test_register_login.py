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
    assert res.json()["errors"] == {
        "password": [
            "This password is too short. It must contain at least 8 characters.",
            "This password is too common.",
            "This password is entirely numeric.",
        ]
    }


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
    joined = owner.date_joined.isoformat().replace("+00:00", "Z")
    assert res.json() == {
        "id": owner.pk,
        "username": "owner",
        "email": "owner@example.test",
        "createdAt": joined,
        "updatedAt": joined,
    }


def test_register_missing_and_malformed_fields_are_400_with_field_errors(db):
    client = APIClient()
    res = client.post("/auth/register", {}, format="json")
    assert res.status_code == 400
    assert res.json()["errors"] == {
        "username": ["This field is required."],
        "password": ["This field is required."],
    }
    res = client.post(
        "/auth/register", {"username": "bad name!", "password": "Tr1cky-pass-99"}, format="json"
    )
    assert res.status_code == 400
    assert list(res.json()["errors"]) == ["username"]
    res = client.post(
        "/auth/register", {"username": "zoe", "password": "Tr1cky-pass-99", "email": "nope"}, format="json"
    )
    assert res.status_code == 400
    assert res.json()["errors"] == {"email": ["Enter a valid email address."]}
    res = client.post("/auth/register", ["zoe"], format="json")
    assert res.status_code == 400


def test_register_password_similar_to_username_is_refused(db):
    res = APIClient().post(
        "/auth/register", {"username": "margaretha", "password": "margaretha1"}, format="json"
    )
    assert res.status_code == 400
    assert res.json()["errors"] == {"password": ["The password is too similar to the username."]}


def test_register_username_taken_ignores_case(db, owner):
    res = APIClient().post(
        "/auth/register", {"username": "OWNER", "password": "Tr1cky-pass-99"}, format="json"
    )
    assert res.status_code == 409


def test_login_missing_fields_is_400(db):
    res = APIClient().post("/auth/login", {"username": "owner"}, format="json")
    assert res.status_code == 400
    assert res.json() == {
        "message": "password: This field is required.",
        "errors": {"password": ["This field is required."]},
    }


def test_login_of_an_inactive_user_is_401(db, owner):
    owner.is_active = False
    owner.save()
    res = APIClient().post(
        "/auth/login", {"username": "owner", "password": "S3cure-pass-owner"}, format="json"
    )
    assert res.status_code == 401
    assert res.json() == {"message": "Invalid username or password", "errors": {}}
