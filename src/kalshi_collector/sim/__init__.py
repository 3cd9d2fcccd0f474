"""A simulated Kalshi exchange speaking the real REST and WebSocket protocols on loopback.

The whole project is tested against it. It builds its JSON from its own model of an exchange
and imports nothing from ``kalshi_collector.kalshi`` (the client side), so a misreading of the
API in the client cannot pass the tests by sharing a codec; both sides are checked against
``../shared/reference`` instead.

    from kalshi_collector.sim import SimExchange, SimConfig, FaultPlan

    async with SimExchange(SimConfig(seed=1), port=0) as sim:
        sim.rest_url, sim.ws_url, sim.api_key_id, sim.private_key_path
        sim.truth.book("KXHIGHCHI-26FEB11-B34.5")
"""

from kalshi_collector.sim.exchange import SimConfig, SimExchange, Truth
from kalshi_collector.sim.faults import FaultPlan
from kalshi_collector.sim.model import ModelError

__all__ = ["SimExchange", "SimConfig", "FaultPlan", "Truth", "ModelError"]
