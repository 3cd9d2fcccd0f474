"""Weather that settles Kalshi temperature markets, stored beside the market data.

- :mod:`.stations`: series -> station registry and the climate-day window (local standard time);
- :mod:`.asos_1min`, :mod:`.metar`, :mod:`.daily_climate`: one fetcher and parser per source;
- :mod:`.sources`: the registry of sources (fetcher, dataset, how a day settles);
- :mod:`.observations`: the orchestrator writing ``weather/<source>/YYYY-MM-DD.parquet``;
- :mod:`.settlement`: the pure settlement view; :mod:`.command` / :mod:`.settlement_command`: the CLI;
- :mod:`.interface`: ``WeatherObservations``, the original collector's Python interface
  (``from kalshi_collector.weather import WeatherObservations``).
"""

from typing import Any

__all__ = ["WeatherObservations"]


def __getattr__(name: str) -> Any:
    """``WeatherObservations`` on first use: importing a weather module must not pull in the
    HTTP stack, the config and the reader with it."""
    if name == "WeatherObservations":
        from kalshi_collector.weather.interface import WeatherObservations

        return WeatherObservations
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
