"""kalshi-collector: records Kalshi market data to parquet without losing a tick."""

__version__ = "0.1.0"
