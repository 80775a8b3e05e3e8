"""adolf.client loads no worker, service or adapter code, and knows every job the worker runs."""

import subprocess
import sys

from adolf.job_contracts import CONTRACTS, PING
from adolf.workers.catalog import REGISTRY

WORKER_SIDE = ("adolf.workers", "adolf.services", "adolf.adapters", "adolf.scout", "adolf.sandbox", "adolf.db")
HEAVY = ("aiohttp", "numpy", "pandas", "statsforecast", "matplotlib", "uvloop")


def test_importing_the_client_loads_no_worker_service_or_adapter_code():
    probe = (
        "import sys, adolf.client\n"
        f"bad = sorted(m for m in sys.modules if m.startswith({WORKER_SIDE!r}) or m.split('.')[0] in {HEAVY!r})\n"
        "print(','.join(bad))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == ""


def test_every_job_the_worker_runs_is_a_contract_the_client_knows_and_alike():
    assert set(CONTRACTS.jobs) == set(REGISTRY.jobs)
    for name, spec in REGISTRY.jobs.items():
        assert spec.contract == CONTRACTS.job(name), name
    assert PING not in CONTRACTS.jobs  # ping is addressed to a lane: AdolfClient.ping(lane)
