"""Standard Webhooks signatures: the published test vector, verification, replay window, rotation."""

import base64
import hashlib
import hmac

import pytest

from webhooks import signing

# The test vector of the Standard Webhooks reference libraries (Svix).
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TS = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIG = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def _headers(sig=VECTOR_SIG, ts=VECTOR_TS, msg_id=VECTOR_ID):
    return {"Webhook-Id": msg_id, "Webhook-Timestamp": str(ts), "Webhook-Signature": sig}


def test_sign_matches_the_standard_webhooks_test_vector():
    assert signing.sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TS, VECTOR_BODY) == VECTOR_SIG


def test_verify_accepts_the_secret_and_refuses_another():
    assert signing.verify(VECTOR_SECRET, _headers(), VECTOR_BODY, now=VECTOR_TS) is True
    other = signing.generate_secret()
    assert signing.verify(other, _headers(), VECTOR_BODY, now=VECTOR_TS) is False


def test_verify_refuses_a_changed_body_id_or_timestamp():
    assert signing.verify(VECTOR_SECRET, _headers(), VECTOR_BODY + b" ", now=VECTOR_TS) is False
    assert signing.verify(VECTOR_SECRET, _headers(msg_id="msg_other"), VECTOR_BODY, now=VECTOR_TS) is False
    assert signing.verify(VECTOR_SECRET, _headers(ts=VECTOR_TS + 1), VECTOR_BODY, now=VECTOR_TS) is False


def test_verify_refuses_a_timestamp_outside_the_five_minute_window():
    assert signing.verify(VECTOR_SECRET, _headers(), VECTOR_BODY, now=VECTOR_TS + 300) is True
    assert signing.verify(VECTOR_SECRET, _headers(), VECTOR_BODY, now=VECTOR_TS + 301) is False
    assert signing.verify(VECTOR_SECRET, _headers(), VECTOR_BODY, now=VECTOR_TS - 301) is False
    assert (
        signing.verify(VECTOR_SECRET, _headers(), VECTOR_BODY, tolerance_s=None, now=VECTOR_TS + 10**6)
        is True
    )


def test_verify_accepts_any_of_several_signatures_and_ignores_other_versions():
    sig = f"v2,AAAA v1,bm9wZQ== {VECTOR_SIG}"
    assert signing.verify(VECTOR_SECRET, _headers(sig=sig), VECTOR_BODY, now=VECTOR_TS) is True
    assert (
        signing.verify(VECTOR_SECRET, _headers(sig="v2," + VECTOR_SIG[3:]), VECTOR_BODY, now=VECTOR_TS)
        is False
    )


@pytest.mark.parametrize("missing", ["Webhook-Id", "Webhook-Timestamp", "Webhook-Signature"])
def test_verify_refuses_missing_headers(missing):
    headers = _headers()
    del headers[missing]
    assert signing.verify(VECTOR_SECRET, headers, VECTOR_BODY, now=VECTOR_TS) is False


def test_generated_secrets_are_32_random_bytes_and_sign_with_their_own_bytes():
    one, two = signing.generate_secret(), signing.generate_secret()
    assert one.startswith("whk_") and one != two
    assert len(base64.urlsafe_b64decode(one[len("whk_") :] + "=")) == 32
    assert signing.secret_key(one) == one.encode()


def test_standard_secret_is_the_same_key_in_whsec_spelling():
    secret, body = signing.generate_secret(), b'{"id":"1"}'
    standard = signing.standard_secret(secret)
    assert standard.startswith("whsec_") and signing.secret_key(standard) == secret.encode()
    headers = {"webhook-id": "msg_1", "webhook-timestamp": "1700000000",
               "webhook-signature": signing.sign(secret, "msg_1", 1700000000, body)}
    assert signing.verify(standard, headers, body, now=1700000000) is True
    assert signing.verify(secret + "x", headers, body, now=1700000000) is False
    assert signing.standard_secret(standard) == standard


def test_the_readme_snippet_verifies_with_the_standard_library_only():
    secret, body = signing.generate_secret(), b'{"id":"1"}'
    h = {"webhook-id": "msg_1", "webhook-timestamp": "1700000000"}
    h["webhook-signature"] = signing.sign(secret, "msg_1", 1700000000, body)
    # The five lines of README.md, "Webhooks":
    key = secret.encode()
    signed = f"{h['webhook-id']}.{h['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    ok = any(hmac.compare_digest(expected, s.split(",", 1)[1]) for s in h["webhook-signature"].split())
    assert ok is True
