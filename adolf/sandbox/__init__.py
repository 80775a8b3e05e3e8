"""Marketplace simulator: Wildberries, Ozon and Yandex Market seller APIs on one local port.

Used by the demo, the tests and the benchmarks over real HTTP. All state is in memory;
``/__sandbox/`` is the control API (seed cards, inject faults, read counters).
"""

from .config import SandboxAccount, SandboxConfig
from .server import SandboxServer, create_app, run_sandbox, start_sandbox

__all__ = ["SandboxAccount", "SandboxConfig", "SandboxServer", "create_app", "run_sandbox", "start_sandbox"]
