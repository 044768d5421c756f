"""The side-by-side harness's own parsing, percentile, ratio and verdict code (bench/side_by_side.py).

No benchmark runs here: the figures are given, as bench/bullmq/bench.js and our side report them.
"""

from datetime import UTC, datetime

import pytest

from bench import side_by_side as sbs

BULLMQ_BURST = {"workload": "burst", "n": 10, "started": 10, "last_s": 1.5, "p50_s": 1.0, "rss_mb": 90,
                "timed_out": False}


def ours_burst(last_s, started=10):
    return {"jobs": 10, "started": started, "inserted_last_s": 0.5, "p50_s": 0.4, "last_s": last_s}


def test_last_json_takes_the_last_object_line():
    out = 'npm noise\n{"a": 1}\nprogress\n{"workload": "bulk", "jobs_per_s": 5000}\n\n'
    assert sbs.last_json(out) == {"workload": "bulk", "jobs_per_s": 5000}
    with pytest.raises(ValueError, match="no JSON result"):
        sbs.last_json("Error: connect ECONNREFUSED\n")


def test_with_db_replaces_or_adds_the_database_number():
    assert sbs.with_db("redis://127.0.0.1:6379", 9) == "redis://127.0.0.1:6379/9"
    assert sbs.with_db("redis://127.0.0.1:6379/3", 10) == "redis://127.0.0.1:6379/10"


def test_next_boundary_leaves_the_lead_time():
    now = datetime(2026, 12, 1, 15, 0, 45, 500000, tzinfo=UTC)
    assert sbs.next_boundary(now, 10) == datetime(2026, 12, 1, 15, 1, tzinfo=UTC)
    assert sbs.next_boundary(now, 20) == datetime(2026, 12, 1, 15, 2, tzinfo=UTC)


def test_p99_is_nearest_rank_as_bench_js():
    assert sbs.p99([]) is None
    assert sbs.p99([5.0]) == 5.0
    values = list(range(1, 101))  # 1..100: the 99th value by nearest rank
    assert sbs.p99(values) == 99
    assert sbs.p99(list(range(1, 1001))) == 990


def test_ratio_is_ours_over_theirs_or_none():
    assert sbs.ratio(20.5, 1.64) == pytest.approx(12.5, rel=1e-2)
    assert sbs.ratio(None, 1.0) is None
    assert sbs.ratio(1.0, 0) is None


def test_burst_row_met_only_when_ours_is_no_later():
    assert sbs.burst_row(10, 60, BULLMQ_BURST, ours_burst(1.2)).met is True
    late = sbs.burst_row(10, 60, BULLMQ_BURST, ours_burst(3.0))
    assert (late.met, late.ratio) == (False, "2.00")


def test_burst_row_unfinished_shows_a_lower_bound():
    row = sbs.burst_row(10, 60, BULLMQ_BURST, ours_burst(None, started=4))
    assert row.met is False
    assert row.ours == "> 60 s (4 of 10 active; 10 rows inserted by 0.50 s)"
    assert row.ratio == "> 40.00"


def test_burst_row_100k_needs_every_process_under_300_mb():
    fast = ours_burst(1.0)
    assert sbs.burst_row(10, 60, BULLMQ_BURST, fast, {"beat": 90.0, "worker": 120.0}).met is True
    row = sbs.burst_row(10, 60, BULLMQ_BURST, fast, {"beat": 90.0, "worker": 310.0})
    assert row.met is False
    assert "worker 310 MB" in row.ours


def test_every_row_needs_every_fire_and_a_p99_no_higher():
    theirs = {"started": 100, "expected": 100, "p99_ms": 50}
    ours = {"expected": 100, "started": 100, "late_ms": [10.0] * 100}
    assert sbs.every_row("w", theirs, ours).met is True
    assert sbs.every_row("w", theirs, {**ours, "started": 99, "late_ms": [10.0] * 99}).met is False
    slow = sbs.every_row("w", theirs, {**ours, "late_ms": [60.0] * 100})
    assert (slow.met, slow.ratio) == (False, "1.20")


def test_every_row_with_an_absolute_target():
    theirs = {"started": 60, "expected": 60, "p99_ms": 100}
    ours = {"expected": 60, "started": 60, "late_ms": [20.0] * 60}
    assert sbs.every_row("w", theirs, ours, p99_target_ms=25).met is True
    assert sbs.every_row("w", theirs, {**ours, "late_ms": [30.0] * 60}, p99_target_ms=25).met is False


def test_bulk_row_without_the_route_is_not_judged():
    theirs = {"jobs_per_s": 5000, "concurrency": 1}
    row = sbs.bulk_row(20000, theirs, None)
    assert (row.ours, row.ratio, row.met) == ("n/a (no bulk route)", "n/a", None)
    assert sbs.bulk_row(20000, theirs, 5100.0).met is True
    assert sbs.bulk_row(20000, theirs, 4900.0).met is False


def test_http_row_compares_with_raw_celery():
    theirs = {"jobs_per_s": 1000, "concurrency": 1}
    assert sbs.http_row(theirs, 600.0, 1200.0).met is True
    row = sbs.http_row(theirs, 372.0, 1214.0, 400.0)
    assert (row.met, row.ratio) == (False, "0.31 of raw Celery")
    assert "requests answered at 400/s" in row.ours


def test_table_is_markdown_with_one_line_per_row():
    rows = [sbs.bulk_row(20000, {"jobs_per_s": 5000, "concurrency": 1}, None)]
    lines = sbs.table(rows).splitlines()
    assert len(lines) == 3
    assert lines[2].startswith("| 20,000 echo jobs") and lines[2].endswith("|")
    assert all(line.count("|") == 8 for line in lines)
