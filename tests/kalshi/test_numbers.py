"""Kalshi's fixed-point strings become exact cents and contracts (never through float * 100)."""

from __future__ import annotations

import pytest

from kalshi_collector.kalshi.numbers import (
    BadNumber,
    cents_to_dollars,
    contracts_to_fp,
    dollars_to_cents,
    fp_to_contracts,
)


@pytest.mark.parametrize(
    ("dollars", "cents"),
    [("0.2900", 29.0), ("0.5700", 57.0), ("0.5800", 58.0), ("0.0150", 1.5), ("1.0000", 100.0), ("0.000100", 0.01)],
)
def test_prices_to_cents(dollars: str, cents: float) -> None:
    assert dollars_to_cents(dollars) == cents
    # the classic bug this guards against: int(float("0.29") * 100) == 28
    assert int(float(dollars) * 100) != cents or dollars_to_cents(dollars) == cents


@pytest.mark.parametrize(("fp", "contracts"), [("12.34", 12.34), ("145.00", 145.0), ("0.01", 0.01)])
def test_counts_to_contracts(fp: str, contracts: float) -> None:
    assert fp_to_contracts(fp) == contracts


def test_round_trips_and_bad_input() -> None:
    assert cents_to_dollars(29.0) == "0.2900" and cents_to_dollars(1.5) == "0.0150"
    assert contracts_to_fp(12.34) == "12.34"
    assert dollars_to_cents(None) is None and fp_to_contracts(None) is None
    with pytest.raises(BadNumber):
        dollars_to_cents("twenty cents")
    with pytest.raises(BadNumber):
        fp_to_contracts("lots")


def test_lax_readings() -> None:
    from decimal import Decimal

    from kalshi_collector.kalshi.numbers import lax_float, lax_int, number_text

    assert lax_int("1781143200") == 1781143200 and lax_int("17.0") == 17 and lax_int(Decimal("3")) == 3
    assert lax_float("13.1") == 13.1 and lax_float(Decimal("0.5")) == 0.5
    assert number_text(Decimal("0.2900")) == "0.2900" and number_text(0.29) == "0.29" and number_text(150) == "150"
    for bad in ("x", "", "1.5", True, None):
        with pytest.raises(BadNumber):
            lax_int(bad)
    for bad in ("x", "", "nan", False):
        with pytest.raises(BadNumber):
            lax_float(bad)
