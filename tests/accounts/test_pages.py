"""Account pages: sessions with CSRF on, registration, logout, password reset through the mail."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client

from .conftest import OWNER_PASSWORD


@pytest.fixture
def browser() -> Client:
    return Client(enforce_csrf_checks=True)


def csrf_of(client: Client, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200
    return re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content).group(1).decode()


def sign_in(browser: Client, username: str = "owner", password: str = OWNER_PASSWORD):
    token = csrf_of(browser, "/login/")
    return browser.post("/login/", {"username": username, "password": password, "csrfmiddlewaretoken": token})


def test_login_page_has_a_form_with_username_and_password(db):
    res = Client().get("/login/")
    assert res.status_code == 200
    html = res.content.decode()
    assert '<form class="stack" method="post" action="/login/">' in html
    assert 'name="username"' in html and 'type="password"' in html and 'name="csrfmiddlewaretoken"' in html
    assert 'href="/register/"' in html and 'href="/password-reset/"' in html


def test_home_sends_anonymous_visitors_to_login(db):
    res = Client().get("/")
    assert res.status_code == 302 and res["Location"] == "/login/?next=/"


def test_login_sets_the_session_and_goes_home(db, owner, browser):
    res = sign_in(browser)
    assert res.status_code == 302 and res["Location"] == "/"
    assert browser.session["_auth_user_id"] == str(owner.pk)
    home = browser.get("/")
    assert (
        home.status_code == 200
        and b"<h1>Dashboard " in home.content
        and b"<span>owner</span>" in home.content
    )


def test_wrong_password_shows_the_form_again(db, owner, browser):
    res = sign_in(browser, password="wrong")
    assert res.status_code == 200
    assert b"Please enter a correct username and password" in res.content
    assert "_auth_user_id" not in browser.session


def test_login_post_without_csrf_token_is_refused(db, owner, browser):
    res = browser.post("/login/", {"username": "owner", "password": OWNER_PASSWORD})
    assert res.status_code == 403


def test_logout_is_a_post_and_ends_the_session(db, owner, browser):
    sign_in(browser)
    assert browser.get("/logout/").status_code == 405
    token = browser.cookies["csrftoken"].value
    res = browser.post("/logout/", {"csrfmiddlewaretoken": token})
    assert res.status_code == 302 and res["Location"] == "/login/"
    assert browser.get("/").status_code == 302


def test_register_page_creates_the_user_and_signs_in(db, browser):
    token = csrf_of(browser, "/register/")
    res = browser.post(
        "/register/",
        {
            "username": "nina",
            "email": "nina@example.test",
            "password1": "Tr1cky-pass-99",
            "password2": "Tr1cky-pass-99",
            "csrfmiddlewaretoken": token,
        },
    )
    assert res.status_code == 302 and res["Location"] == "/"
    user = get_user_model().objects.get(username="nina")
    assert user.email == "nina@example.test" and user.check_password("Tr1cky-pass-99")
    assert browser.session["_auth_user_id"] == str(user.pk)


def test_register_page_applies_the_password_validators_and_unique_names(db, owner, browser):
    token = csrf_of(browser, "/register/")
    weak = browser.post(
        "/register/",
        {
            "username": "nina",
            "email": "nina@example.test",
            "password1": "12345678",
            "password2": "12345678",
            "csrfmiddlewaretoken": token,
        },
    )
    assert weak.status_code == 200 and b"This password is too common." in weak.content
    taken = browser.post(
        "/register/",
        {
            "username": "OWNER",
            "email": "o2@example.test",
            "password1": "Tr1cky-pass-99",
            "password2": "Tr1cky-pass-99",
            "csrfmiddlewaretoken": token,
        },
    )
    assert taken.status_code == 200 and b"A user with that username already exists." in taken.content
    assert get_user_model().objects.count() == 1


def test_password_reset_pages_end_to_end(db, owner, browser):
    token = csrf_of(browser, "/password-reset/")
    res = browser.post("/password-reset/", {"email": "owner@example.test", "csrfmiddlewaretoken": token})
    assert res.status_code == 302 and res["Location"] == "/password-reset/done/"
    assert browser.get(res["Location"]).status_code == 200
    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(/password-reset/[^/\s]+/[^/\s]+/)", mail.outbox[0].body).group(1)
    # Django moves the token into the session and redirects to a token-less URL
    res = browser.get(link)
    assert res.status_code == 302 and res["Location"].endswith("/set-password/")
    form_token = csrf_of(browser, res["Location"])
    res = browser.post(
        res["Location"],
        {
            "new_password1": "N3w-Secret-pass",
            "new_password2": "N3w-Secret-pass",
            "csrfmiddlewaretoken": form_token,
        },
    )
    assert res.status_code == 302 and res["Location"] == "/password-reset/complete/"
    assert b"Password changed" in browser.get(res["Location"]).content
    owner.refresh_from_db()
    assert owner.check_password("N3w-Secret-pass")
    # the link works once
    again = browser.get(link)
    assert again.status_code == 200 and b"This link does not work" in again.content
    assert sign_in(Client(enforce_csrf_checks=True), password="N3w-Secret-pass").status_code == 302


def test_password_reset_page_answers_the_same_for_unknown_email(db, browser):
    token = csrf_of(browser, "/password-reset/")
    res = browser.post("/password-reset/", {"email": "nobody@example.test", "csrfmiddlewaretoken": token})
    assert res.status_code == 302 and res["Location"] == "/password-reset/done/"
    assert mail.outbox == []


def test_session_authenticates_the_api_and_csrf_is_enforced(db, owner, browser):
    sign_in(browser)
    me = browser.get("/auth/me")
    assert me.status_code == 200 and me.json()["username"] == "owner"
    refused = browser.post("/jobs/submit", {"name": "echo", "data": {}}, content_type="application/json")
    assert refused.status_code == 403
    assert refused.json() == {"message": "CSRF Failed: CSRF token missing.", "errors": {}}
    ok = browser.post(
        "/jobs/submit",
        {"name": "echo", "data": {}},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=browser.cookies["csrftoken"].value,
    )
    assert ok.status_code == 201
