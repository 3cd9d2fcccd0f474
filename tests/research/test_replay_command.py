"""``kalshi-collector replay``: partial ``--at`` times, a mistyped ticker, the original's data."""

from __future__ import annotations

import datetime as dt

import pytest

from kalshi_collector.cli import main
from kalshi_collector.errors import UsageError
from kalshi_collector.live.replay_command import parse_time
from tests.research import sample
from tests.research.original_sample import A as ORIGINAL_A

UTC = dt.UTC


def replay(data, market: str, at: str) -> list[str]:  # type: ignore[no-untyped-def]
    return ["replay", "--data-dir", str(data), "--market", market, "--at", at]


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-02-11T18:30:00Z", dt.datetime(2026, 2, 11, 18, 30, tzinfo=UTC)),
    ("2026-02-11T18:30:00+01:00", dt.datetime(2026, 2, 11, 17, 30, tzinfo=UTC)),
    ("2026-02-11 18:30", dt.datetime(2026, 2, 11, 18, 30, tzinfo=UTC)),
    ("2026-02-11", dt.datetime(2026, 2, 11, tzinfo=UTC)),
    ("18:30", dt.datetime(2026, 2, 12, 18, 30, tzinfo=UTC)),
    ("18:30:05Z", dt.datetime(2026, 2, 12, 18, 30, 5, tzinfo=UTC)),
])
def test_at_takes_a_partial_time(text: str, expected: dt.datetime) -> None:
    assert parse_time(text, lambda: dt.date(2026, 2, 12)) == expected


def test_a_bad_or_dayless_at_is_a_clear_error() -> None:
    with pytest.raises(UsageError, match=r"--at 'noon': expected a UTC time such as"):
        parse_time("noon", lambda: dt.date(2026, 2, 12))
    with pytest.raises(UsageError, match=r"names no day .* give the date too, e.g. --at '2026-02-11 18:30'"):
        parse_time("18:30", lambda: None)


def test_a_time_alone_is_on_the_last_day_recorded(sample_dir, capsys) -> None:
    assert main(replay(sample_dir, sample.A, "00:11")) == 0
    out, err = capsys.readouterr()
    assert "read as 2026-02-12T00:11:00+00:00 (a time alone is on the last day" in err
    assert out.startswith(f"{sample.A} at 2026-02-12T00:11:00+00:00: VALID")
    assert "+ 3 deltas" in out and "best YES bid 31, best YES ask 40" in out
    assert "        31          1         60          3" in out


def test_a_mistyped_ticker_gets_suggestions(sample_dir, capsys) -> None:
    assert main(replay(sample_dir, "KXHIGHCHI-26FEB12-B345", "2026-02-12 00:11")) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"kalshi-collector replay: no market KXHIGHCHI-26FEB12-B345 in {sample_dir}; "
                   f"did you mean {sample.A}, {sample.B}?")


def test_before_any_snapshot_says_so(sample_dir, capsys) -> None:
    assert main(replay(sample_dir, sample.A, "2026-02-11")) == 1
    assert "NOT VALID (no orderbook snapshot recorded before that time)" in capsys.readouterr().out


def test_the_original_collectors_data_replays(original, capsys) -> None:
    assert main(replay(original, ORIGINAL_A, "2026-02-12 10:01:30")) == 0
    out = capsys.readouterr().out
    assert "VALID (as the original collector recorded it" in out
    assert "from the order-book snapshot of 2026-02-12T10:01:00+00:00" in out
    assert "        31          2         60          4" in out
