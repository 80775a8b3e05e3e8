"""Throwaway Redis, Redis Sentinel and PostgreSQL servers for benchmarks, outage and failover tests: started from the
machine's binaries on free loopback ports, stopped by pid (never the configured servers)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis


async def stop_process(process: asyncio.subprocess.Process | None, sig: int = signal.SIGTERM) -> None:
    """Signal a child process and wait for it; killed if it has not ended within 10 s."""
    if process is None or process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(sig)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(process.wait(), 10)
    if process.returncode is None:
        process.kill()
        await process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class OwnRedis:
    """redis-server with an append-only file, as deploy/ configures it: a restart keeps every key."""

    def __init__(self, directory: Path, *, port: int | None = None, args: tuple[str, ...] = ()) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.args = args
        self.process: asyncio.subprocess.Process | None = None
        self._log: Any = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    async def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        log = self._log = (self.directory / "redis.log").open("ab")
        self.process = await asyncio.create_subprocess_exec(
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
            "--appendonly", "yes", "--appendfsync", "always", "--save", "", *self.args,
            stdout=log, stderr=log,
        )  # fmt: skip
        deadline = time.monotonic() + 15
        while not await self.answers():
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server on port {self.port} did not start")
            await asyncio.sleep(0.05)

    async def answers(self) -> bool:
        client = aioredis.Redis(port=self.port, socket_connect_timeout=0.5)
        try:
            return bool(await client.ping())
        except Exception:
            return False
        finally:
            await client.aclose()

    def pause(self) -> None:
        """The server hangs (connections stay open, nothing answers) until `resume`."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    async def stop(self, sig: int = signal.SIGTERM) -> None:
        """SIGTERM: a clean shutdown (the append-only file flushed); SIGKILL: a crash."""
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGCONT)  # a paused server must be able to act on `sig`
        await stop_process(self.process, sig)
        if self._log is not None:
            self._log.close()
            self._log = None


class OwnSentinel:
    """A Redis Sentinel watching `master` (quorum 1, a second to call it down)."""

    def __init__(self, directory: Path, master: OwnRedis, *, name: str = "mymaster") -> None:
        self.directory = directory
        self.master = master
        self.name = name
        self.port = free_port()
        self.process: asyncio.subprocess.Process | None = None
        self._log: Any = None

    async def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        config = self.directory / "sentinel.conf"
        config.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {self.directory}\n"
            f"sentinel monitor {self.name} 127.0.0.1 {self.master.port} 1\n"
            f"sentinel down-after-milliseconds {self.name} 1000\n"
            f"sentinel failover-timeout {self.name} 5000\n"
            f"sentinel parallel-syncs {self.name} 1\n"
        )
        self._log = (self.directory / "sentinel.log").open("ab")
        self.process = await asyncio.create_subprocess_exec(
            "redis-server", str(config), "--sentinel", stdout=self._log, stderr=self._log
        )
        deadline = time.monotonic() + 15
        while not await self.knows_master():
            if time.monotonic() > deadline:
                raise RuntimeError("redis sentinel did not start")
            await asyncio.sleep(0.1)

    async def master_port(self) -> int | None:
        client = aioredis.Redis(port=self.port, socket_connect_timeout=0.5)
        try:
            address = await client.execute_command("SENTINEL", "get-master-addr-by-name", self.name)
            return int(address[1]) if address else None
        except Exception:
            return None
        finally:
            await client.aclose()

    async def other_clients(self) -> int:
        """How many clients besides the one asking are connected to this sentinel."""
        client = aioredis.Redis(port=self.port, socket_connect_timeout=0.5)
        try:
            return len(await client.client_list()) - 1
        finally:
            await client.aclose()

    async def knows_master(self) -> bool:
        return await self.master_port() is not None

    async def stop(self) -> None:
        await stop_process(self.process)
        if self._log is not None:
            self._log.close()
            self._log = None


def _pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise RuntimeError("no PostgreSQL binaries (initdb) on this machine")


class OwnPostgres:
    """A PostgreSQL cluster of its own (trust auth, fsync off), stopped and started like a database outage."""

    def __init__(self, directory: Path | None = None) -> None:
        # the server runs as the postgres user: its directory must be reachable by it (not under a 0700 parent)
        self.directory = directory or Path(tempfile.mkdtemp(prefix="adolf-pg-"))
        self.port = free_port()
        self.bin = _pg_bin()
        self.as_root = os.geteuid() == 0

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    async def _run(self, *args: str) -> None:
        command = ["runuser", "-u", "postgres", "--", *args] if self.as_root else list(args)
        process = await asyncio.create_subprocess_exec(
            *command, cwd="/", stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
        )
        _, err = await process.communicate()
        if process.returncode:
            raise RuntimeError(f"{args[0]} failed: {err.decode(errors='replace')[-500:]}")

    async def start(self) -> None:
        data = self.directory / "data"
        if not (data / "PG_VERSION").exists():
            self.directory.mkdir(parents=True, exist_ok=True)
            if self.as_root:
                shutil.chown(self.directory, "postgres", "postgres")
            await self._run(
                str(self.bin / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                "--locale=C.UTF-8",
            )  # fmt: skip
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {data} -c fsync=off -c full_page_writes=off"
        await self._run(
            str(self.bin / "pg_ctl"), "-D", str(data), "-l", str(data / "server.log"), "-w", "-t", "60", "-o",
            options, "start",
        )  # fmt: skip

    async def stop(self) -> None:
        """An outage: the server stops at once (open connections are cut)."""
        await self._run(str(self.bin / "pg_ctl"), "-D", str(self.directory / "data"), "-w", "-m", "immediate", "stop")

    async def remove(self) -> None:
        with contextlib.suppress(RuntimeError):
            await self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)
