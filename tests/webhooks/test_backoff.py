"""The retry policy (webhooks/backoff.py): which answers are retried and how long to wait."""

import pytest

from webhooks import backoff

SCHEDULE = (5, 30, 300, 1800, 7200, 18000, 36000)


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        (None, True),
        (429, True),
        (500, True),
        (502, True),
        (503, True),
        (599, True),
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (410, False),
        (422, False),
        (301, False),
        (302, False),
        (200, False),
        (204, False),
    ],
)
def test_which_answers_are_retried(status, retryable):
    assert backoff.is_retryable(status) is retryable


@pytest.mark.parametrize(
    ("attempt", "rand", "expected"),
    [
        (1, 0.5, 5.0),
        (2, 0.5, 30.0),
        (3, 0.5, 300.0),
        (4, 0.5, 1800.0),
        (5, 0.5, 7200.0),
        (6, 0.5, 18000.0),
        (7, 0.5, 36000.0),
        (8, 0.5, 36000.0),  # past the table the last step repeats
        (1, 0.0, 4.0),
        (1, 1.0, 6.0),  # jitter 0.2: [0.8, 1.2] x the step
        (2, 0.0, 24.0),
        (7, 1.0, 43200.0),
    ],
)
def test_delay_follows_the_schedule_with_jitter(attempt, rand, expected):
    assert backoff.delay_s(attempt, schedule=SCHEDULE, jitter=0.2, rand=lambda: rand) == pytest.approx(
        expected
    )


def test_default_policy_is_eight_attempts_over_about_eighteen_hours():
    total = sum(backoff.delay_s(n, rand=lambda: 0.5) for n in range(1, 8))
    assert total == 63335.0  # 17.6 h between the first and the eighth attempt


def test_retry_after_wins_when_longer_and_is_capped_at_a_day():
    assert backoff.delay_s(1, schedule=SCHEDULE, jitter=0, retry_after_s=120) == 120
    assert backoff.delay_s(3, schedule=SCHEDULE, jitter=0, retry_after_s=120) == 300
    assert backoff.delay_s(1, schedule=SCHEDULE, jitter=0, retry_after_s=10**9) == 86400


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 3 ", 3.0),
        ("0", 0.0),
        (None, None),
        ("", None),
        ("-1", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", None),
    ],
)
def test_parse_retry_after(header, seconds):
    assert backoff.parse_retry_after(header) == seconds


def test_attempt_is_one_based():
    with pytest.raises(ValueError):
        backoff.delay_s(0)
