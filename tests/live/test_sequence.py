"""SequenceTracker: per-sid numbering, control replies consuming numbers, gaps, duplicates, late
arrivals and restarts, driven with real decoded frames where the order matters."""

from __future__ import annotations

import json
from pathlib import Path

from kalshi_collector.kalshi import messages as wm
from kalshi_collector.live.sequence import SEQ_OK, SeqCheck, SeqStatus, SequenceTracker


def _delta(sid: int, seq: int) -> bytes:
    return json.dumps({"type": "orderbook_delta", "sid": sid, "seq": seq, "msg": {
        "market_ticker": "M", "price_dollars": "0.5000", "delta_fp": "1.00", "side": "yes"}}).encode()


def test_first_seq_sets_the_baseline_then_in_order_is_ok() -> None:
    tracker = SequenceTracker()
    assert tracker.observe(1, 41) is SEQ_OK  # Kalshi's first value is undocumented: any start is fine
    assert tracker.observe(1, 42) is SEQ_OK
    assert tracker.last(1) == 42 and tracker.last(2) is None


def test_gap_reports_expected_and_received_and_moves_on() -> None:
    tracker = SequenceTracker()
    for seq in (1, 2, 3):
        tracker.observe(1, seq)
    assert tracker.observe(1, 7) == SeqCheck(SeqStatus.GAP, 4, 7)
    assert tracker.observe(1, 8) is SEQ_OK  # the tracker accepted the new position
    assert tracker.last(1) == 8


def test_duplicates_and_late_arrivals_are_told_apart() -> None:
    tracker = SequenceTracker()
    for seq in (1, 2, 3):
        tracker.observe(1, seq)
    assert tracker.observe(1, 3) == SeqCheck(SeqStatus.DUPLICATE, 4, 3)
    assert tracker.observe(1, 2) == SeqCheck(SeqStatus.DUPLICATE, 4, 2)
    assert tracker.observe(1, 6).status is SeqStatus.GAP  # 4 and 5 skipped
    assert tracker.observe(1, 5) == SeqCheck(SeqStatus.OUT_OF_ORDER, 7, 5)
    assert tracker.observe(1, 5).status is SeqStatus.DUPLICATE  # now it has been seen
    assert tracker.observe(1, 4).status is SeqStatus.OUT_OF_ORDER
    assert tracker.observe(1, 7) is SEQ_OK  # position never moved backwards
    assert tracker.last(1) == 7


def test_sids_are_independent_never_per_ticker() -> None:
    tracker = SequenceTracker()
    assert tracker.observe(1, 1) is SEQ_OK
    assert tracker.observe(2, 1) is SEQ_OK
    assert tracker.observe(1, 2) is SEQ_OK
    assert tracker.observe(2, 2) is SEQ_OK
    assert tracker.observe(2, 4).status is SeqStatus.GAP
    assert tracker.observe(1, 3) is SEQ_OK


def test_ok_reply_between_deltas_is_not_a_gap(kalshi_fixtures: Path) -> None:
    """API.md 7: the ``ok`` answering update_subscription consumes a number of the sid's sequence
    (the reference reply is sid 1, seq 5)."""
    tracker = SequenceTracker()
    ok = wm.decode((kalshi_fixtures / "ws_resp_ok_update_subscription.json").read_bytes())
    frames = [wm.decode(_delta(1, 3)), wm.decode(_delta(1, 4)), ok, wm.decode(_delta(1, 6))]
    assert [tracker.observe_message(m) for m in frames] == [SEQ_OK] * 4
    # ...while skipping the ok (as a careless reader would) turns the next delta into a gap
    careless = SequenceTracker()
    results = [careless.observe_message(m) for m in frames if not isinstance(m, wm.Ok)]
    assert results[-1] == SeqCheck(SeqStatus.GAP, 5, 6)


def test_control_replies_and_unknown_types_count_ticker_and_plain_errors_do_not(kalshi_fixtures: Path) -> None:
    tracker = SequenceTracker()
    unsubscribed = wm.decode((kalshi_fixtures / "ws_resp_unsubscribed.json").read_bytes())  # sid 2, seq 41
    ticker = wm.decode((kalshi_fixtures / "ws_ticker.json").read_bytes())  # sid 2, no seq
    plain_error = wm.decode((kalshi_fixtures / "ws_resp_error.json").read_bytes())  # no sid
    sid_error = wm.decode(b'{"type":"error","sid":2,"seq":42,"msg":{"code":10,"msg":"channel error"}}')
    fee = wm.decode(b'{"type":"event_fee_update","sid":2,"seq":43,"msg":{}}')
    subscribed = wm.decode((kalshi_fixtures / "ws_resp_subscribed.json").read_bytes())
    tracker.observe(2, 40)
    assert tracker.observe_message(ticker) is None
    assert tracker.observe_message(plain_error) is None
    assert tracker.observe_message(subscribed) is None
    assert tracker.observe_message(unsubscribed) is SEQ_OK
    assert tracker.observe_message(sid_error) is SEQ_OK
    assert tracker.observe_message(fee) is SEQ_OK
    assert tracker.last(2) == 43


def test_every_sequenced_reference_frame_is_observed(kalshi_fixtures: Path) -> None:
    """The lifecycle fixtures are seq 1..7 on sid 4 (event_lifecycle is 7): in order, no gap."""
    tracker = SequenceTracker()
    frames = [p for p in kalshi_fixtures.glob("ws_*lifecycle*.json") if not p.name.startswith("ws_cmd_")]
    names = sorted(frames, key=lambda p: json.loads(p.read_text())["seq"])
    checks = [tracker.observe_message(wm.decode(p.read_bytes())) for p in names]
    assert checks == [SEQ_OK] * 7 and tracker.last(4) == 7


def test_reset_forget_and_a_new_connection() -> None:
    tracker = SequenceTracker()
    for seq in range(1, 51):
        tracker.observe(1, seq)
    tracker.observe(2, 9)
    # A new connection restarts numbering at 1; without a reset that reads as a duplicate.
    assert tracker.observe(1, 1).status is SeqStatus.DUPLICATE
    tracker.reset_all()
    assert 1 not in tracker and 2 not in tracker
    assert tracker.observe(1, 1) is SEQ_OK and tracker.observe(1, 2) is SEQ_OK
    tracker.reset(1)  # resubscribed: the next message sets a new baseline
    assert tracker.observe(1, 900) is SEQ_OK
    tracker.forget(1)  # unsubscribed
    assert 1 not in tracker
    tracker.forget(1)  # twice is harmless


def test_holes_memory_is_bounded() -> None:
    tracker = SequenceTracker()
    tracker.observe(1, 1)
    seq = 1
    for _ in range(100):
        seq += 2  # a gap of one every time
        assert tracker.observe(1, seq).status is SeqStatus.GAP
    assert tracker.observe(1, 2).status is SeqStatus.DUPLICATE  # forgotten hole: the old skip is not remembered
    assert tracker.observe(1, seq - 1).status is SeqStatus.OUT_OF_ORDER  # recent hole still known
