"""The ``sim`` command's options become the simulator's config (``sim/command.py``)."""

from __future__ import annotations

import argparse

import pytest

from kalshi_collector.sim.command import add_arguments, config_from_args


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="kalshi-collector sim")
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_the_flow_tick_is_given_in_milliseconds_and_defaults_to_five() -> None:
    assert config_from_args(_parse()).flow_tick_s == pytest.approx(0.005)
    assert config_from_args(_parse("--flow-tick", "1")).flow_tick_s == pytest.approx(0.001)


@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_a_flow_tick_that_is_not_a_positive_number_is_refused_by_name(value: str,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _parse("--flow-tick", value)
    assert "--flow-tick" in capsys.readouterr().err
