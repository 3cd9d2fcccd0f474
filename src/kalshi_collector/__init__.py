"""kalshi-collector: records Kalshi market data to parquet without losing a tick."""

__version__ = "0.1.0"

__all__ = ["open_data", "__version__"]


def __getattr__(name: str) -> object:
    """``kalshi_collector.open_data``: the research API's entry point, imported on first use (the
    command line does not pay for pandas before it needs it)."""
    if name == "open_data":
        from kalshi_collector.research import open_data

        return open_data
    raise AttributeError(f"module 'kalshi_collector' has no attribute {name!r}")
