"""/healthz, /metrics and sd_notify of running collectors (``monitored``), and the health rules."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from pathlib import Path

import pytest
from ops_helpers import Monitored
from prometheus_client.parser import text_string_to_metric_families

from kalshi_collector.config import config_from_dict
from kalshi_collector.live.collector import Collector
from kalshi_collector.live.metrics import ChannelTally, HealthLimits, HealthView, Monitor, assess
from kalshi_collector.live.sequence import SeqStatus
from kalshi_collector.live.subscriptions import ALL_CHANNELS


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, keyed by (name, sorted labels); parsed by prometheus_client itself."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(scrape: dict, name: str, **labels: str) -> float:
    return scrape[(f"kalshi_collector_{name}", tuple(sorted(labels.items())))]


def test_healthz_is_200_while_the_collector_streams_and_writes(monitored: Monitored) -> None:
    assert [s.status for s in monitored.healthy] == [200, 200]
    # 6 markets a day's event; after the next day's event opens (late in the UTC day) 12
    assert re.match(r"ok: (6|12) markets, \d+ books valid", monitored.healthy[-1].text)


def test_metrics_cover_streams_books_lag_storage_and_rest(monitored: Monitored) -> None:
    first, last = (samples(text) for text in monitored.metrics)
    assert value(last, "healthy") == 1 and value(last, "ws_connected") == 1
    assert value(last, "ws_messages_total", channel="orderbook_delta") > 50
    assert value(last, "ws_messages_total", channel="trade") > 0
    assert all(("kalshi_collector_ws_messages_total", (("channel", c),)) in last
                                  for c in (*ALL_CHANNELS, "other"))
    per_channel = sum(v for (n, _), v in last.items() if n == "kalshi_collector_ws_messages_total")
    assert per_channel >= value(last, "ws_frames_total")
    assert value(last, "sequence_breaks_total", kind="gap") >= 1  # the simulator drops every 150th message
    assert value(last, "resync_requests_total") >= 1 and value(last, "books_recovered_total") >= 1
    assert value(last, "ws_connects_total") == 1 and value(last, "ws_disconnects_total") == 0
    markets = value(last, "markets_tracked")  # one day's event, or two late in the UTC day
    assert markets in (6, 12) and value(last, "books_valid") <= markets
    assert value(last, "ws_lag_seconds_count") > 0
    assert 0 <= value(last, "ws_lag_seconds_sum") / value(last, "ws_lag_seconds_count") < 1.0
    assert value(last, "rows_written_total", table="orderbook_deltas") > 0
    assert value(last, "rows_written_total", table="market_snapshots") > 0
    assert value(last, "rows_buffered") >= 0 and value(last, "flush_duration_seconds") > 0
    assert value(last, "storage_errors_total", kind="write") == 0 and value(last, "last_flush_ok") == 1
    assert value(last, "rest_requests_total") > 0
    assert value(last, "rest_errors_total", kind="http_429") == 0
    assert value(last, "process_resident_memory_bytes") > 0
    # counters only go up between scrapes, and never past what the collector counted afterwards
    for key, v in first.items():
        if key[0].endswith("_total") and "process" not in key[0]:
            assert last[key] >= v, key
    assert value(last, "ws_frames_total") <= monitored.counters.messages
    assert value(last, "sequence_breaks_total", kind="gap") <= monitored.counters.seq_breaks[SeqStatus.GAP]


def test_failing_flushes_make_healthz_503_with_the_reason(monitored: Monitored) -> None:
    assert monitored.broken is not None and monitored.broken.status == 503
    assert "last flush failed" in monitored.broken.text
    broken = samples(monitored.broken_metrics)
    assert value(broken, "storage_errors_total", kind="write") >= 1
    assert value(broken, "last_flush_ok") == 0 and value(broken, "healthy") == 0
    assert value(broken, "rows_buffered") > 0  # kept for the next flush, not dropped


def test_a_lost_exchange_makes_healthz_503(monitored: Monitored) -> None:
    assert monitored.disconnected is not None and monitored.disconnected.status == 503
    assert "not connected to the exchange WebSocket" in monitored.disconnected.text


def test_sd_notify_ready_watchdog_and_stopping(monitored: Monitored) -> None:
    first_lines = [m.splitlines()[0] for m in monitored.notify]
    assert first_lines[0] == "READY=1"
    assert first_lines.count("WATCHDOG=1") >= 4  # every 0.2 s (WATCHDOG_USEC 0.4 s) for a few seconds
    assert "STOPPING=1" in first_lines
    assert any(m.startswith("WATCHDOG=1\nSTATUS=healthy") for m in monitored.notify)


def test_a_taken_port_is_logged_and_the_collector_goes_on(key_file: Path, caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = config_from_dict({"kalshi": {"api_key_id": "k", "private_key_path": str(key_file)},
                                   "storage": {"data_dir": str(key_file.parent / "data")},
                                   "metrics": {"port": port}}, env={})

        async def start_and_stop() -> Monitor:
            collector = Collector(config)
            monitor = Monitor(collector.view, host="127.0.0.1", port=port)
            with caplog.at_level(logging.ERROR):
                await monitor.start()
            await monitor.stop()
            return monitor

        monitor = asyncio.run(start_and_stop())
    assert monitor.bound is None
    assert "metrics server cannot listen" in caplog.text


# ==================================================================================== pure rules

LIMITS = HealthLimits(max_silence=30, max_flush_age=660, max_journal_error_age=60, max_resync_wait=60,
                      startup_grace=15)


def view(**changes: object) -> HealthView:
    base = dict(now=1000.0, started_at=900.0, markets=6, connected=True, subscribed_channels=frozenset(ALL_CHANNELS),
                last_frame_at=999.0, last_flush_ok=True, last_good_flush_at=800.0, write_errors=0,
                journal_error_at=None, journal_errors=0, unsynced_rows=0)
    base.update(changes)
    return HealthView(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({}, None),
        ({"last_frame_at": 950.0}, "no frame for 50 s (limit 30 s)"),
        ({"connected": False}, "not connected to the exchange WebSocket"),
        ({"connected": False, "started_at": 995.0}, "starting: not connected yet"),
        ({"connected": False, "started_at": 995.0, "connects": 1}, "not connected to the exchange WebSocket (reconnecting"),
        ({"subscribed_channels": frozenset({"orderbook_delta", "ticker"}), "started_at": 0.0},
         "channel(s) not subscribed: trade, market_lifecycle_v2"),
        ({"markets": 0, "connected": False}, "no markets to collect"),
        ({"last_flush_ok": False, "write_errors": 3}, "last flush failed (3 write errors so far"),
        ({"last_good_flush_at": 300.0}, "no complete flush for 700 s (limit 660 s)"),
        ({"journal_error_at": 990.0, "journal_errors": 2, "unsynced_rows": 40}, "journal write failing (2 errors"),
        ({"journal_error_at": 900.0, "journal_errors": 2}, None),  # an old error, since recovered
        ({"awaiting_resync": (990.0, 930.0, 920.0)}, "2 book(s) waiting more than 60 s for a resync snapshot (longest 80 s)"),
        ({"stopping": True}, "stopping"),
    ],
)
def test_health_rules(changes: dict, reason: str | None) -> None:
    problems = assess(view(**changes), LIMITS)
    if reason is None:
        assert problems == []
    else:
        assert any(p.startswith(reason) for p in problems), problems


def test_channel_tally_keeps_what_a_closed_subscription_counted() -> None:
    tally = ChannelTally()
    assert tally.observe([(1, 1, "orderbook_delta", 100), (1, 2, "trade", 7)]) == {"orderbook_delta": 100, "trade": 7}
    # reconnect: connection 2 starts its sids again at 1
    assert tally.observe([(2, 1, "orderbook_delta", 5)]) == {"orderbook_delta": 105, "trade": 7}
    assert tally.observe([(2, 1, "orderbook_delta", 9), (2, 3, "trade", 2)]) == {"orderbook_delta": 109, "trade": 9}


def test_decoding_metrics_count_unknown_types_repairs_and_rejects_by_kind() -> None:
    from prometheus_client.exposition import generate_latest
    from prometheus_client.registry import CollectorRegistry

    from kalshi_collector.kalshi import messages as wm
    from kalshi_collector.kalshi.lax import FieldRepair, Repair
    from kalshi_collector.live.counters import MAX_NAMED_TYPES, Counters, Lag
    from kalshi_collector.live.metrics import decoding_metrics
    from kalshi_collector.live.view import CollectorView

    c = Counters()
    for i in range(MAX_NAMED_TYPES + 3):
        c.note_unknown_type(f"type_{i}")
    c.note_unknown_type("type_0")
    c.note_repair(FieldRepair("ticker", "msg.volume_fp", Repair.TEXT_FROM_NUMBER))
    c.note_reject("ws")
    c.note_unknown_fields([wm.UnknownField("trade", "msg.fee_dollars")])
    c.note_reject("rest:markets")
    v = CollectorView(now=0.0, markets=0, books_valid=0, connected=True, subscribed_channels=frozenset(),
                      subscriptions=(), last_frame_at=None, counters=c, lag=Lag(), awaiting_resync=(),
                      last_good_flush_at=0.0, store={}, rest={}, stopping=False)

    class One:
        def collect(self):
            return decoding_metrics(v)

    registry = CollectorRegistry()
    registry.register(One())
    scrape = samples(generate_latest(registry).decode())
    assert value(scrape, "ws_unknown_types_total", type="type_0") == 2
    assert value(scrape, "ws_unknown_types_total", type="other") == 3
    assert value(scrape, "decode_repairs_total", type="ticker", field="msg.volume_fp", repair="text_from_number") == 1
    assert value(scrape, "ws_unknown_fields_total", type="trade", field="msg.fee_dollars") == 1
    assert value(scrape, "rejects_total", source="ws") == 1 and value(scrape, "rejects_total", source="rest:markets") == 1
