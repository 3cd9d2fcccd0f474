"""Typed WebSocket messages: every reference frame decodes to its struct with typed fields, bad
frames fail with one short error, unknown types survive with their sequence numbers, and the
command builders produce exactly the reference command shapes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kalshi_collector.kalshi import messages as wm
from kalshi_collector.kalshi.messages import MessageError, decode


def _frame(kalshi_fixtures: Path, name: str) -> bytes:
    return (kalshi_fixtures / name).read_bytes()


def _compact(data: dict) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


EXPECTED_TYPES = {
    "ws_orderbook_snapshot.json": wm.OrderbookSnapshot,
    "ws_orderbook_snapshot_one_side_empty.json": wm.OrderbookSnapshot,
    "ws_orderbook_delta.json": wm.OrderbookDelta,
    "ws_orderbook_delta_new_level.json": wm.OrderbookDelta,
    "ws_ticker.json": wm.Ticker,
    "ws_trade.json": wm.Trade,
    "ws_market_lifecycle_v2_created.json": wm.MarketLifecycle,
    "ws_market_lifecycle_v2_close_date_updated.json": wm.MarketLifecycle,
    "ws_market_lifecycle_v2_deactivated.json": wm.MarketLifecycle,
    "ws_market_lifecycle_v2_determined.json": wm.MarketLifecycle,
    "ws_market_lifecycle_v2_settled.json": wm.MarketLifecycle,
    "ws_market_lifecycle_v2_metadata_updated.json": wm.MarketLifecycle,
    "ws_event_lifecycle.json": wm.EventLifecycle,
    "ws_resp_subscribed.json": wm.Subscribed,
    "ws_resp_ok_update_subscription.json": wm.Ok,
    "ws_resp_list_subscriptions.json": wm.Ok,
    "ws_resp_unsubscribed.json": wm.Unsubscribed,
    "ws_resp_error.json": wm.Error,
    "ws_resp_error_market_ticker_required.json": wm.Error,
}


def test_every_reference_frame_is_covered(kalshi_fixtures: Path) -> None:
    frames = {p.name for p in kalshi_fixtures.glob("ws_*.json") if not p.name.startswith("ws_cmd_")}
    assert frames == set(EXPECTED_TYPES), "a new ws_* fixture needs a decode test"


@pytest.mark.parametrize("name", sorted(EXPECTED_TYPES))
def test_reference_frame_decodes_to_its_type(kalshi_fixtures: Path, name: str) -> None:
    raw = _frame(kalshi_fixtures, name)
    msg = decode(raw)
    assert type(msg) is EXPECTED_TYPES[name]
    data = json.loads(raw)
    for key in ("id", "sid", "seq"):
        if key in data:
            assert getattr(msg, key) == data[key]
    # str input (aiohttp hands TEXT frames over as str) decodes to the same thing
    assert decode(raw.decode()) == msg


def test_orderbook_snapshot_fields(kalshi_fixtures: Path) -> None:
    msg = decode(_frame(kalshi_fixtures, "ws_orderbook_snapshot.json"))
    assert isinstance(msg, wm.OrderbookSnapshot)
    body = msg.msg
    assert (msg.sid, msg.seq) == (1, 1)
    assert body.market_ticker == "KXHIGHCHI-26FEB11-B34.5"
    assert body.yes_dollars_fp[0] == ("0.2500", "1200.00")
    assert body.yes_levels() == [(25.0, 1200.0), (28.0, 350.0), (29.0, 500.0), (30.0, 220.0), (31.0, 145.0)]
    assert body.no_levels()[-1] == (67.0, 60.0)


def test_snapshot_with_an_omitted_side_has_an_empty_list(kalshi_fixtures: Path) -> None:
    msg = decode(_frame(kalshi_fixtures, "ws_orderbook_snapshot_one_side_empty.json"))
    assert isinstance(msg, wm.OrderbookSnapshot)
    assert msg.msg.no_dollars_fp == []
    assert msg.msg.yes_levels() == [(2.0, 900.0), (3.0, 410.0)]


def test_orderbook_delta_fields(kalshi_fixtures: Path) -> None:
    msg = decode(_frame(kalshi_fixtures, "ws_orderbook_delta.json"))
    assert isinstance(msg, wm.OrderbookDelta)
    body = msg.msg
    assert (body.side, body.price_dollars, body.delta_fp) == ("no", "0.6700", "-25.00")
    assert body.price_cents == 67.0
    assert body.delta_contracts == -25.0
    assert body.ts_ms == 1770834581512


def test_ticker_fields(kalshi_fixtures: Path) -> None:
    msg = decode(_frame(kalshi_fixtures, "ws_ticker.json"))
    assert isinstance(msg, wm.Ticker)
    body = msg.msg
    assert msg.seq is None  # the ticker channel has no sequence
    assert body.last_price_cents == 33.0
    assert (body.yes_bid_cents, body.yes_ask_cents) == (31.0, 33.0)
    assert (body.volume, body.open_interest) == (18477.0, 9145.0)
    assert (body.yes_bid_size, body.yes_ask_size) == (145.0, 35.0)
    assert body.dollar_volume == 5912


def test_trade_fields(kalshi_fixtures: Path) -> None:
    msg = decode(_frame(kalshi_fixtures, "ws_trade.json"))
    assert isinstance(msg, wm.Trade)
    body = msg.msg
    assert (body.yes_price_cents, body.no_price_cents, body.count) == (33.0, 67.0, 25.0)
    assert (body.outcome_side, body.taker_book_side, body.is_block_trade) == ("yes", "bid", False)


def test_trade_without_deprecated_fields_and_with_only_the_old_side() -> None:
    body = {
        "trade_id": "t1",
        "market_ticker": "M",
        "yes_price_dollars": "0.4000",
        "no_price_dollars": "0.6000",
        "count_fp": "1.50",
        "taker_side": "no",
        "ts_ms": 1,
    }
    msg = decode(_compact({"type": "trade", "sid": 3, "seq": 2, "msg": body}))
    assert isinstance(msg, wm.Trade)
    assert msg.msg.outcome_side == "no"
    assert msg.msg.count == 1.5
    assert msg.msg.ts is None


def test_lifecycle_created_carries_metadata(kalshi_fixtures: Path) -> None:
    msg = decode(_frame(kalshi_fixtures, "ws_market_lifecycle_v2_created.json"))
    assert isinstance(msg, wm.MarketLifecycle)
    meta = msg.msg.additional_metadata
    assert meta is not None
    assert (meta.event_ticker, meta.yes_sub_title, meta.floor_strike, meta.cap_strike) == (
        "KXHIGHCHI-26FEB12",
        "34° to 35°",
        34.0,
        35.0,
    )
    assert msg.msg.price_ranges is not None and msg.msg.price_ranges[0].step == "0.0100"


def test_lifecycle_determined_settlement_value(kalshi_fixtures: Path) -> None:
    msg = decode(_frame(kalshi_fixtures, "ws_market_lifecycle_v2_determined.json"))
    assert isinstance(msg, wm.MarketLifecycle)
    assert (msg.msg.event_type, msg.msg.result, msg.msg.settlement_value_cents) == ("determined", "yes", 100.0)


def test_lifecycle_event_type_outside_the_enum_still_decodes() -> None:
    frame = {"type": "market_lifecycle_v2", "sid": 4, "seq": 9, "msg": {"market_ticker": "M", "event_type": "paused_v3"}}
    msg = decode(_compact(frame))
    assert isinstance(msg, wm.MarketLifecycle)
    assert msg.msg.event_type == "paused_v3"


def test_ok_in_both_forms(kalshi_fixtures: Path) -> None:
    update = decode(_frame(kalshi_fixtures, "ws_resp_ok_update_subscription.json"))
    assert isinstance(update, wm.Ok)
    assert (update.sid, update.seq) == (1, 5)
    assert update.market_tickers == ["KXHIGHCHI-26FEB11-B34.5", "KXHIGHCHI-26FEB11-T30", "KXHIGHCHI-26FEB11-B36.5"]
    assert update.subscriptions is None

    listing = decode(_frame(kalshi_fixtures, "ws_resp_list_subscriptions.json"))
    assert isinstance(listing, wm.Ok)
    assert listing.sid is None and listing.market_tickers is None
    assert [(s.channel, s.sid) for s in listing.subscriptions or []] == [("orderbook_delta", 1), ("market_lifecycle_v2", 4)]


def test_subscribed_unsubscribed_and_errors(kalshi_fixtures: Path) -> None:
    sub = decode(_frame(kalshi_fixtures, "ws_resp_subscribed.json"))
    assert isinstance(sub, wm.Subscribed)
    assert (sub.id, sub.msg.channel, sub.msg.sid) == (1, "orderbook_delta", 1)

    unsub = decode(_frame(kalshi_fixtures, "ws_resp_unsubscribed.json"))
    assert isinstance(unsub, wm.Unsubscribed)
    assert (unsub.id, unsub.sid, unsub.seq) == (7, 2, 41)

    err = decode(_frame(kalshi_fixtures, "ws_resp_error_market_ticker_required.json"))
    assert isinstance(err, wm.Error)
    assert (err.id, err.msg.code, err.msg.msg, err.sid, err.terminal) == (10, 14, "Market Ticker required", None, False)


def test_sid_scoped_terminal_error() -> None:
    frame = {"type": "error", "id": 0, "sid": 1, "seq": 12, "msg": {"code": 25, "msg": "buffer overflow", "market_tickers": ["A"]}}
    err = decode(_compact(frame))
    assert isinstance(err, wm.Error)
    assert (err.sid, err.seq, err.terminal, err.msg.market_tickers) == (1, 12, True, ["A"])


def test_extra_fields_are_ignored(kalshi_fixtures: Path) -> None:
    data = json.loads(_frame(kalshi_fixtures, "ws_orderbook_delta.json"))
    data["shard"] = 3
    data["msg"]["brand_new_field"] = {"nested": [1, 2]}
    msg = decode(_compact(data))
    assert isinstance(msg, wm.OrderbookDelta)
    assert msg.msg.price_cents == 67.0


def test_unknown_type_keeps_its_sequence_position() -> None:
    # event_fee_update shares the lifecycle subscription: its seq must reach the tracker.
    frame = {"type": "event_fee_update", "sid": 4, "seq": 8, "msg": {"event_ticker": "E", "fee": "0.07"}}
    msg = decode(_compact(frame))
    assert isinstance(msg, wm.UnknownMessage)
    assert (msg.type, msg.sid, msg.seq) == ("event_fee_update", 4, 8)


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (b'{"type":"orderbook_delta","sid":1', "malformed JSON"),
        (b"", "malformed JSON"),
        (b"\xff\xfe", "malformed JSON"),
        (b"[1,2]", "not a Kalshi message"),
        (b'"orderbook_delta"', "not a Kalshi message"),
        (b'{"sid":1,"seq":2}', "not a Kalshi message"),
        (b'{"type":7}', "not a Kalshi message"),
        (b'{"type":"orderbook_delta","sid":1,"seq":3}', "bad orderbook_delta"),
        (
            b'{"type":"orderbook_delta","sid":1,"seq":3,"msg":{"market_ticker":"M","price_dollars":"0.67",'
            b'"delta_fp":"1.00","side":"maybe"}}',
            "bad orderbook_delta",
        ),
        (b'{"type":"orderbook_snapshot","sid":1,"seq":1,"msg":{"market_ticker":"M","yes_dollars_fp":[["0.1"]]}}',
         "bad orderbook_snapshot"),
        (b'{"type":"ticker","sid":"2","msg":{}}', "bad ticker"),
        (b'{"type":"trade","sid":3,"seq":4,"msg":{"trade_id":"t","market_ticker":"M","yes_price_dollars":"0.3"}}',
         "bad trade"),
    ],
)
def test_bad_frames_raise_one_short_error(frame: bytes, reason: str) -> None:
    with pytest.raises(MessageError) as info:
        decode(frame)
    assert str(info.value).startswith(reason)
    assert len(str(info.value)) <= 160


def test_error_reason_does_not_echo_a_huge_frame() -> None:
    junk = '{"type":"orderbook_delta","sid":1,"seq":1,"msg":{"market_ticker":"M","price_dollars":"0.5",' + (
        '"delta_fp":"1.00","side":"' + "x" * 10_000 + '"}}'
    )
    with pytest.raises(MessageError) as info:
        decode(junk)
    assert len(str(info.value)) <= 160


def test_non_text_input_is_a_message_error() -> None:
    with pytest.raises(MessageError):
        decode(None)  # type: ignore[arg-type]


# --- exact numbers --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dollars", "cents"),
    [("0.2900", 29.0), ("0.5700", 57.0), ("0.5800", 58.0), ("0.0150", 1.5), ("0.01", 1.0), ("0.990000", 99.0)],
)
def test_prices_convert_exactly(dollars: str, cents: float) -> None:
    assert wm.price_cents(dollars) == cents
    assert wm.price_micros(dollars) == round(cents * 10_000)
    # the classic bug this avoids: float("0.29") * 100 == 28.999999999999996
    assert int(wm.price_cents(dollars)) == int(cents)


@pytest.mark.parametrize(("fp", "centi"), [("12.34", 1234), ("-25.00", -2500), ("0.01", 1), ("145.00", 14500)])
def test_counts_convert_exactly(fp: str, centi: int) -> None:
    assert wm.centi_contracts(fp) == centi


def test_fractional_delta_contracts() -> None:
    body = wm.OrderbookDeltaBody(market_ticker="M", price_dollars="0.5800", delta_fp="12.34", side="yes")
    assert body.delta_contracts == 12.34
    assert body.price_cents == 58.0


@pytest.mark.parametrize("bad", ["abc", "", "NaN", "1.2.3", "0.0000", "1.0000", "-0.10", "0.0000001"])
def test_impossible_prices_are_rejected(bad: str) -> None:
    with pytest.raises(wm.BadNumber):
        wm.price_micros(bad)


@pytest.mark.parametrize("bad", ["abc", "", "1.234", "Infinity", "1e-3"])
def test_counts_finer_than_hundredths_are_rejected(bad: str) -> None:
    with pytest.raises(wm.BadNumber):
        wm.centi_contracts(bad)


# --- commands ---------------------------------------------------------------------------------------


def _cmd(kalshi_fixtures: Path, name: str) -> dict:
    return json.loads(_frame(kalshi_fixtures, name))


def test_subscribe_orderbook_matches_reference(kalshi_fixtures: Path) -> None:
    cmd = wm.subscribe(1, ["orderbook_delta"], ["KXHIGHCHI-26FEB11-B34.5", "KXHIGHCHI-26FEB11-T30"])
    reference = _cmd(kalshi_fixtures, "ws_cmd_subscribe_orderbook.json")
    assert json.loads(cmd) == reference
    assert cmd == _compact(reference)  # byte for byte, in the reference's key order
    assert b'"use_yes_price":false' in cmd  # pinned explicitly, never left to the server's default


def test_subscribe_ticker_trade_matches_reference(kalshi_fixtures: Path) -> None:
    expected = _cmd(kalshi_fixtures, "ws_cmd_subscribe_ticker_trade.json")
    cmd = wm.subscribe(2, ["ticker", "trade"], expected["params"]["market_tickers"], send_initial_snapshot=True)
    assert cmd == _compact(expected)


def test_subscribe_lifecycle_matches_reference(kalshi_fixtures: Path) -> None:
    assert wm.subscribe(3, ["market_lifecycle_v2"]) == _compact(_cmd(kalshi_fixtures, "ws_cmd_subscribe_lifecycle.json"))


def test_unsubscribe_and_list_match_reference(kalshi_fixtures: Path) -> None:
    assert wm.unsubscribe(7, [2]) == _compact(_cmd(kalshi_fixtures, "ws_cmd_unsubscribe.json"))
    assert wm.list_subscriptions(8) == _compact(_cmd(kalshi_fixtures, "ws_cmd_list_subscriptions.json"))


def test_update_subscription_matches_reference(kalshi_fixtures: Path) -> None:
    add = wm.update_subscription(4, "add_markets", ["KXHIGHCHI-26FEB11-B36.5"], sid=1)
    delete = wm.update_subscription(5, "delete_markets", ["KXHIGHCHI-26FEB11-T30"], sids=[1])
    snap = wm.update_subscription(6, "get_snapshot", ["KXHIGHCHI-26FEB11-B34.5"], sid=1)
    assert add == _compact(_cmd(kalshi_fixtures, "ws_cmd_update_subscription_add_markets.json"))
    assert delete == _compact(_cmd(kalshi_fixtures, "ws_cmd_update_subscription_delete_markets.json"))
    assert snap == _compact(_cmd(kalshi_fixtures, "ws_cmd_update_subscription_get_snapshot.json"))


def test_commands_validate_against_the_command_schema(reference_dir: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((reference_dir / "kalshi" / "ws_message_schemas.json").read_text())["command"]
    for cmd in (
        wm.subscribe(1, ["orderbook_delta", "ticker"], ["A"], use_yes_price=True, skip_ticker_ack=True),
        wm.unsubscribe(2, [1, 2]),
        wm.update_subscription(3, "get_snapshot", ["A", "B"], sid=1),
        wm.list_subscriptions(0),
    ):
        jsonschema.validate(json.loads(cmd), schema)


def test_use_yes_price_only_for_the_orderbook_channel() -> None:
    assert "use_yes_price" not in json.loads(wm.subscribe(1, ["ticker"], ["A"]))["params"]
    assert json.loads(wm.subscribe(1, ["orderbook_delta"], ["A"], use_yes_price=True))["params"]["use_yes_price"] is True


@pytest.mark.parametrize(
    "build",
    [
        lambda: wm.subscribe(1, []),
        lambda: wm.subscribe(1, "ticker"),
        lambda: wm.subscribe(1, ["orderbook_delta"]),  # Kalshi would answer error 14
        lambda: wm.subscribe(1, ["ticker"], "KXHIGHCHI-26FEB11-B34.5"),
        lambda: wm.subscribe(1, ["ticker"], []),  # would silently mean "all markets" if dropped
        lambda: wm.unsubscribe(1, []),
        lambda: wm.update_subscription(1, "add_markets", ["A"]),
        lambda: wm.update_subscription(1, "add_markets", ["A"], sid=1, sids=[1]),
        lambda: wm.update_subscription(1, "add_markets", ["A"], sids=[1, 2]),
        lambda: wm.update_subscription(1, "rename", ["A"], sid=1),  # type: ignore[arg-type]
        lambda: wm.update_subscription(1, "get_snapshot", [], sid=1),
    ],
)
def test_commands_the_server_would_refuse_fail_here(build) -> None:  # noqa: ANN001
    with pytest.raises((ValueError, TypeError)):
        build()


# --- tolerant decoding: the variants real Kalshi payloads show (issue 9 item 2) ----------------------


def _decode_noting(frame: bytes) -> tuple[wm.Message, list[wm.FieldRepair]]:
    repairs: list[wm.FieldRepair] = []
    return decode(frame, repairs.append), repairs


def _kinds(repairs: list[wm.FieldRepair]) -> set[tuple[str, wm.Repair]]:
    return {(r.field, r.repair) for r in repairs}


def test_empty_string_in_a_ticker_costs_that_field_only() -> None:
    msg, repairs = _decode_noting(
        b'{"type":"ticker","sid":2,"msg":{"market_ticker":"M","price_dollars":"0.4100","yes_bid_dollars":"",'
        b'"yes_ask_dollars":"0.4200","volume_fp":"","open_interest_fp":"10.00","yes_bid_size_fp":"","ts_ms":5}}'
    )
    assert isinstance(msg, wm.Ticker)
    body = msg.msg
    # "" is a string, so the strict path keeps it; the exact conversion reads it as null
    assert body.yes_bid_cents is None and body.volume is None and body.yes_bid_size is None
    assert body.last_price_cents == 41.0 and body.yes_ask_cents == 42.0 and body.open_interest == 10.0
    assert repairs == []


def test_empty_string_where_a_number_is_expected_reads_as_null() -> None:
    msg, repairs = _decode_noting(
        b'{"type":"ticker","sid":2,"msg":{"market_ticker":"M","price_dollars":"0.4100","dollar_volume":"",'
        b'"ts_ms":""}}'
    )
    assert isinstance(msg, wm.Ticker)
    assert msg.msg.dollar_volume is None and msg.msg.ts_ms is None and msg.msg.last_price_cents == 41.0
    assert ("msg.dollar_volume", wm.Repair.EMPTY_AS_NULL) in _kinds(repairs)
    assert {r.record for r in repairs} == {"ticker"}


def test_numeric_strings_where_numbers_are_expected() -> None:
    msg, repairs = _decode_noting(
        b'{"type":"market_lifecycle_v2","sid":"4","seq":"9","msg":{"market_ticker":"M","event_type":"created",'
        b'"open_ts":"1781143200","close_ts":1781229600,"floor_strike":"13.1"}}'
    )
    assert isinstance(msg, wm.MarketLifecycle)
    assert (msg.sid, msg.seq) == (4, 9)
    assert msg.msg.open_ts == 1781143200 and msg.msg.floor_strike == 13.1
    assert ("msg.open_ts", wm.Repair.NUMBER_FROM_TEXT) in _kinds(repairs)
    assert ("seq", wm.Repair.NUMBER_FROM_TEXT) in _kinds(repairs)


def test_numbers_where_strings_are_expected_keep_their_exact_digits() -> None:
    msg, repairs = _decode_noting(
        b'{"type":"orderbook_delta","sid":1,"seq":3,"msg":{"market_ticker":"M","price_dollars":0.2900,'
        b'"delta_fp":-12.50,"side":"yes","ts_ms":"1770834581512"}}'
    )
    assert isinstance(msg, wm.OrderbookDelta)
    assert msg.msg.price_dollars == "0.2900" and msg.msg.delta_fp == "-12.50"
    assert wm.price_micros(msg.msg.price_dollars) == 290_000 and wm.centi_contracts(msg.msg.delta_fp) == -1250
    assert msg.msg.ts_ms == 1770834581512
    assert ("msg.price_dollars", wm.Repair.TEXT_FROM_NUMBER) in _kinds(repairs)


def test_snapshot_levels_sent_as_numbers_stay_exact() -> None:
    msg, _ = _decode_noting(
        b'{"type":"orderbook_snapshot","sid":1,"seq":1,"msg":{"market_ticker":"M",'
        b'"yes_dollars_fp":[[0.01,100.00],["0.0150","3.00"]],"no_dollars_fp":[[0.5,1]]}}'
    )
    assert isinstance(msg, wm.OrderbookSnapshot)
    assert msg.msg.yes_dollars_fp == [("0.01", "100.00"), ("0.0150", "3.00")]
    assert msg.msg.no_levels() == [(50.0, 1.0)]


def test_an_unreadable_snapshot_side_fails_the_snapshot_instead_of_emptying_the_book() -> None:
    with pytest.raises(MessageError) as info:
        decode(b'{"type":"orderbook_snapshot","sid":1,"seq":7,"msg":{"market_ticker":"M","yes_dollars_fp":"x"}}')
    err = info.value
    assert (err.kind, err.sid, err.seq, err.market_ticker) == ("orderbook_snapshot", 1, 7, "M")


def test_trade_with_ts_but_no_ts_ms_derives_it() -> None:
    msg, _ = _decode_noting(
        b'{"type":"trade","sid":3,"seq":17,"msg":{"trade_id":"d0f9","market_ticker":"M","yes_price_dollars":"0.3300",'
        b'"no_price_dollars":"0.6700","count_fp":"25.00","taker_outcome_side":"yes","ts":1770834581}}'
    )
    assert isinstance(msg, wm.Trade)
    assert msg.msg.ts_ms == 1770834581000


def test_trade_with_no_time_at_all_is_rejected() -> None:
    with pytest.raises(MessageError) as info:
        decode(b'{"type":"trade","sid":3,"seq":18,"msg":{"trade_id":"x","market_ticker":"M","yes_price_dollars":"0.3"}}')
    assert (info.value.sid, info.value.seq) == (3, 18)


def test_event_lifecycle_without_seq() -> None:
    msg = decode(
        b'{"type":"event_lifecycle","sid":4,"msg":{"event_ticker":"E","title":"t","subtitle":"s","series_ticker":"S",'
        b'"strike_date":"1771048740"}}'
    )
    assert isinstance(msg, wm.EventLifecycle)
    assert msg.seq is None and msg.msg.strike_date == 1771048740


def test_ok_with_market_tickers_at_the_top_level() -> None:
    msg = decode(b'{"id":4,"sid":1,"seq":5,"type":"ok","market_tickers":["A","B"]}')
    assert isinstance(msg, wm.Ok)
    assert msg.market_tickers == ["A", "B"]
    inner = decode(b'{"id":4,"sid":1,"seq":5,"type":"ok","msg":{"market_tickers":["C"]}}')
    assert inner.market_tickers == ["C"]


def test_unknown_fields_are_ignored_and_unknown_types_keep_their_numbering() -> None:
    msg = decode(b'{"type":"trade","sid":3,"seq":2,"new_top":{"a":1},"msg":{"trade_id":"t","market_ticker":"M",'
                 b'"yes_price_dollars":"0.3300","count_fp":"1.00","ts_ms":5,"brand_new":[1,2]}}')
    assert isinstance(msg, wm.Trade)
    unknown = decode(b'{"type":"event_fee_update","sid":"4","seq":"8","msg":{"x":1}}')
    assert unknown == wm.UnknownMessage(type="event_fee_update", sid=4, seq=8)
    no_numbers = decode(b'{"type":"event_fee_update","sid":"x"}')
    assert isinstance(no_numbers, wm.UnknownMessage) and no_numbers.sid is None


def test_an_unreadable_optional_field_is_dropped_and_reported() -> None:
    msg, repairs = _decode_noting(
        b'{"type":"trade","sid":3,"seq":2,"msg":{"trade_id":"t","market_ticker":"M","yes_price_dollars":"0.3300",'
        b'"count_fp":"1.00","ts_ms":5,"is_block_trade":{"odd":true},"taker_outcome_side":"sideways"}}'
    )
    assert isinstance(msg, wm.Trade)
    assert msg.msg.is_block_trade is False and msg.msg.taker_outcome_side is None
    assert ("msg.is_block_trade", wm.Repair.DROPPED) in _kinds(repairs)


def test_a_delta_without_a_usable_price_is_rejected_with_its_envelope() -> None:
    with pytest.raises(MessageError) as info:
        decode(b'{"type":"orderbook_delta","sid":"1","seq":"12","msg":{"market_ticker":"M","price_dollars":null,'
               b'"delta_fp":"1.00","side":"yes"}}')
    err = info.value
    assert (err.kind, err.sid, err.seq, err.market_ticker) == ("orderbook_delta", 1, 12, "M")
    assert "price_dollars" in str(err)


def test_the_strict_path_reports_no_repairs() -> None:
    repairs: list[wm.FieldRepair] = []
    decode(b'{"type":"orderbook_delta","sid":1,"seq":3,"msg":{"market_ticker":"M","price_dollars":"0.2900",'
           b'"delta_fp":"1.00","side":"yes","ts_ms":1}}', repairs.append)
    assert repairs == []


def test_the_unknown_field_census_knows_every_reference_field(kalshi_fixtures: Path) -> None:
    for path in sorted(kalshi_fixtures.glob("ws_*.json")):
        if not path.name.startswith("ws_cmd"):
            assert wm.unknown_fields(path.read_bytes()) == [], path.name
    frame = b'{"type":"ticker","sid":2,"new_top":1,"msg":{"market_ticker":"M","fresh":2}}'
    assert wm.unknown_fields(frame) == [wm.UnknownField("ticker", "new_top"), wm.UnknownField("ticker", "msg.fresh")]
    assert wm.unknown_fields(b'{"type":"never_seen","x":1}') == [] and wm.unknown_fields(b"{oops") == []
