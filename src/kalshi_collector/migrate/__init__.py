"""Bring the original collector's files into our data folder (``kalshi-collector migrate``).

- :mod:`.registry`: the migrators (one per kind of original file) and :func:`run_migrators`;
- :mod:`.weather`: ``weather_obs/<source>/<ICAO>_<date>.parquet`` -> ``weather/<source>/``, its
  column mapping in :mod:`.weather_columns` and the row conversion in :mod:`.weather_rows`;
- :mod:`.report`: what a migrator did; :mod:`.command`: the CLI.
"""

from kalshi_collector.migrate.registry import MIGRATORS, run_migrators
from kalshi_collector.migrate.report import MigrationReport

__all__ = ["MIGRATORS", "MigrationReport", "run_migrators"]
