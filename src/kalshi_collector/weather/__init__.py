"""Weather that settles Kalshi temperature markets, stored beside the market data.

- :mod:`.stations`: series -> station registry and the climate-day window (local standard time);
- :mod:`.asos_1min`, :mod:`.metar`, :mod:`.daily_climate`: one fetcher and parser per source;
- :mod:`.sources`: the registry of sources (fetcher, dataset, how a day settles);
- :mod:`.observations`: the orchestrator writing ``weather/<source>/YYYY-MM-DD.parquet``;
- :mod:`.settlement`: the pure settlement view; :mod:`.command` / :mod:`.settlement_command`: the CLI.
"""
