"""Make sure PostgreSQL and Redis are there for the run and test commands.

    eval "$(python scripts/devservices.py up)"         # prints `export ADOLF_...=...` lines
    eval "$(python scripts/devservices.py up --test)"  # servers for the tests (throwaway unless ADOLF_TEST_* set)
    python scripts/devservices.py down                 # stops only what `up` started (by pid / data dir)

`up` uses ADOLF_DATABASE_URL / ADOLF_REDIS_URL (environment, else .env.local, else .env, else the defaults) when they
answer within 3 s. Otherwise it starts throwaway servers from the machine's binaries (installing Debian's packages
when they are missing and we may) on free loopback ports, with data under .data/, points the URLs at them, prints
them (stderr) and writes them to .env.local, which ADOLF's settings read after .env, so a second terminal's
`.venv/bin/adolf ...` reaches the same servers. `down` removes what it wrote there.

`up --test` never touches the configured servers: it uses ADOLF_TEST_DATABASE_URL / ADOLF_TEST_REDIS_URL when they
are set (the tests drop and recreate that database and flush that Redis database), and otherwise starts throwaway
servers with their data in fresh temporary directories, which `down` deletes. It writes no .env.local.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".data"
DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/adolf"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
ENV_LOCAL = ROOT / ".env.local"
BLOCK_BEGIN = "# >>> scripts/devservices.py: throwaway servers of a running scripts/run (removed by its `down`)"
BLOCK_END = "# <<< scripts/devservices.py"


def log(message: str) -> None:
    print(f"[services] {message}", file=sys.stderr, flush=True)


def configured(name: str, default: str) -> str:
    if os.environ.get(name):
        return os.environ[name]
    for env_file in (ROOT / ".env.local", ROOT / ".env"):  # as the settings read them: .env.local wins
        if env_file.exists():
            for line in env_file.read_text().splitlines():
                key, sep, value = line.strip().partition("=")
                if sep and key == name and value:
                    return value.strip().strip("'\"")
    return default


def with_path(url: str, path: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------- probes


async def _postgres_answers(url: str) -> bool:
    import asyncpg

    try:
        conn = await asyncpg.connect(with_path(url, "/postgres"), timeout=3)
    except Exception:
        return False
    try:
        name = urlsplit(url).path.lstrip("/") or "postgres"
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')  # identifier from our own configuration
            log(f"created database {name}")
    finally:
        await conn.close()
    return True


async def _redis_answers(url: str) -> bool:
    import redis.asyncio as redis

    client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
    try:
        return bool(await client.ping())
    except Exception:
        return False
    finally:
        await client.aclose()


# ---------------------------------------------------------------- throwaway servers


def _as_root() -> bool:
    return os.geteuid() == 0


def _apt_install(*packages: str) -> None:
    if not shutil.which("apt-get"):
        raise SystemExit(f"[services] {packages} missing and this is not a Debian/Ubuntu machine: install them")
    prefix = [] if _as_root() else ["sudo", "-n"]
    log(f"installing {' '.join(packages)} with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*prefix, "apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        [*prefix, "apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages], check=True, env=env
    )


def _pg_bin() -> Path:
    for attempt in range(2):
        candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
        if candidates:
            return candidates[-1].parent
        if shutil.which("pg_config"):
            bindir = Path(subprocess.check_output(["pg_config", "--bindir"], text=True).strip())
            if (bindir / "initdb").exists():
                return bindir
        if attempt == 0:
            _apt_install("postgresql")
    raise SystemExit("[services] no PostgreSQL binaries found")


def _run_as_postgres(args: list[str]) -> None:
    command = ["runuser", "-u", "postgres", "--", *args] if _as_root() else args
    subprocess.run(command, check=True, cwd="/", stdout=subprocess.DEVNULL)


def _pg_data_dir() -> Path:
    data = DATA / "pg"
    if not _as_root():
        return data
    data.mkdir(parents=True, exist_ok=True)
    shutil.chown(data, "postgres", "postgres")
    reachable = subprocess.run(["runuser", "-u", "postgres", "--", "test", "-w", str(data)]).returncode == 0
    return data if reachable else Path("/tmp") / f"adolf-pg-{hashlib.sha1(str(ROOT).encode()).hexdigest()[:10]}"


def start_postgres(data: Path | None = None) -> dict[str, object]:
    pg_bin = _pg_bin()
    data = data or _pg_data_dir()
    data.mkdir(parents=True, exist_ok=True)
    if _as_root():
        shutil.chown(data, "postgres", "postgres")
    data.chmod(0o700)
    if not (data / "PG_VERSION").exists():
        log(f"initdb {data}")
        _run_as_postgres(
            [
                str(pg_bin / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ]
        )
    port = free_port()
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {data} -c fsync=off -c full_page_writes=off"
    _run_as_postgres(
        [
            str(pg_bin / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(data / "server.log"),
            "-w",
            "-t",
            "60",
            "-o",
            options,
            "start",
        ]
    )
    log(f"started PostgreSQL on 127.0.0.1:{port}")
    return {"kind": "postgres", "pg_ctl": str(pg_bin / "pg_ctl"), "data": str(data), "port": port}


def start_redis(data: Path | None = None) -> dict[str, object]:
    if not shutil.which("redis-server"):
        _apt_install("redis-server")
    data = data or DATA / "redis"
    data.mkdir(parents=True, exist_ok=True)
    port = free_port()
    pidfile = data / "redis.pid"
    subprocess.run(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(data),
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "yes",
            "--pidfile",
            str(pidfile),
            "--logfile",
            str(data / "redis.log"),
        ],
        check=True,
    )
    deadline = time.monotonic() + 10
    while not pidfile.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    log(f"started Redis on 127.0.0.1:{port}")
    return {"kind": "redis", "pid": int(pidfile.read_text()), "port": port}


# ---------------------------------------------------------------- .env.local


def _without_block(text: str) -> str:
    """`text` without our block (the user's own lines of .env.local stay as they are)."""
    lines, kept, inside = text.splitlines(keepends=True), [], False
    for line in lines:
        if line.rstrip("\n") == BLOCK_BEGIN:
            inside = True
        elif inside and line.rstrip("\n") == BLOCK_END:
            inside = False
        elif not inside:
            kept.append(line)
    return "".join(kept)


def write_env_local(urls: dict[str, str]) -> str:
    """Put the URLs into .env.local (replacing an earlier block of ours); returns the block written."""
    block = "\n".join([BLOCK_BEGIN, *(f"{name}={value}" for name, value in urls.items()), BLOCK_END]) + "\n"
    rest = _without_block(ENV_LOCAL.read_text()) if ENV_LOCAL.exists() else ""
    if rest and not rest.endswith("\n"):
        rest += "\n"
    ENV_LOCAL.write_text(rest + block)
    return block


def remove_env_local(block: str) -> None:
    """Take our block out of .env.local (only if it is still the one we wrote); the file goes if nothing is left."""
    if not ENV_LOCAL.exists() or block not in ENV_LOCAL.read_text():
        return
    rest = ENV_LOCAL.read_text().replace(block, "")
    if rest.strip():
        ENV_LOCAL.write_text(rest)
    else:
        ENV_LOCAL.unlink()
    log(f"removed the throwaway servers' URLs from {ENV_LOCAL}")


# ---------------------------------------------------------------- commands


def _state_file(prefix: str) -> Path:
    DATA.mkdir(exist_ok=True)
    return DATA / f"{prefix}-{os.getppid()}.json"


def up() -> None:
    db_url = configured("ADOLF_DATABASE_URL", DEFAULT_DB)
    redis_url = configured("ADOLF_REDIS_URL", DEFAULT_REDIS)
    started: list[dict[str, object]] = []
    if not asyncio.run(_postgres_answers(db_url)):
        log(f"PostgreSQL at {urlsplit(db_url).hostname}:{urlsplit(db_url).port} does not answer")
        server = start_postgres()
        started.append(server)
        db_url = f"postgresql://postgres@127.0.0.1:{server['port']}/adolf"
        if not asyncio.run(_postgres_answers(db_url)):
            raise SystemExit("[services] the PostgreSQL we started does not answer")
    if not asyncio.run(_redis_answers(redis_url)):
        log(f"Redis at {urlsplit(redis_url).hostname}:{urlsplit(redis_url).port} does not answer")
        server = start_redis()
        started.append(server)
        redis_url = f"redis://127.0.0.1:{server['port']}/0"
    block = ""
    if started:
        urls = {"ADOLF_DATABASE_URL": db_url, "ADOLF_REDIS_URL": redis_url}
        block = write_env_local(urls)
        for name, value in urls.items():
            log(f"{name}={value}")
        log(f"written to {ENV_LOCAL}: `.venv/bin/adolf ...` run from {ROOT} in another terminal reaches these servers")
    state = _state_file("services")
    state.write_text(json.dumps({"servers": started, "env_local": block}))
    print(f"export ADOLF_DATABASE_URL='{db_url}'")
    print(f"export ADOLF_REDIS_URL='{redis_url}'")
    print(f"export ADOLF_SERVICES_STATE='{state}'")


def _scratch_dir(kind: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=f"adolf-test-{kind}-"))
    if kind == "pg" and _as_root():
        shutil.chown(path, "postgres", "postgres")
    return path


def up_test() -> None:
    """Servers for the tests: ADOLF_TEST_DATABASE_URL / ADOLF_TEST_REDIS_URL when set, throwaway ones otherwise."""
    db_url = os.environ.get("ADOLF_TEST_DATABASE_URL", "")
    redis_url = os.environ.get("ADOLF_TEST_REDIS_URL", "")
    started: list[dict[str, object]] = []
    try:
        if not db_url:
            server = start_postgres(_scratch_dir("pg"))
            server["scratch"] = server["data"]
            started.append(server)
            db_url = f"postgresql://postgres@127.0.0.1:{server['port']}/adolf_test"
        if not redis_url:
            data = _scratch_dir("redis")
            server = start_redis(data)
            server["scratch"] = str(data)
            started.append(server)
            redis_url = f"redis://127.0.0.1:{server['port']}/15"
    except BaseException:
        _stop(started)
        raise
    state = _state_file("services-test")
    state.write_text(json.dumps({"servers": started, "env_local": ""}))
    # the configured URLs point at the test servers too, so nothing a test runs can reach the configured servers
    for name, value in (("DATABASE_URL", db_url), ("REDIS_URL", redis_url)):
        print(f"export ADOLF_TEST_{name}='{value}' ADOLF_{name}='{value}'")
    print(f"export ADOLF_SERVICES_STATE='{state}'")


def _stop(servers: list[dict[str, object]]) -> None:
    for server in servers:
        if server["kind"] == "postgres":
            _run_as_postgres([str(server["pg_ctl"]), "-D", str(server["data"]), "-w", "-m", "fast", "stop"])
        elif server["kind"] == "redis":
            asyncio.run(_shutdown_redis(int(server["port"])))  # type: ignore[call-overload]
        log(f"stopped {server['kind']} on port {server['port']}")
        if server.get("scratch"):
            shutil.rmtree(str(server["scratch"]), ignore_errors=True)


def down() -> None:
    state = Path(os.environ.get("ADOLF_SERVICES_STATE", ""))
    if not state.is_file():
        return
    recorded = json.loads(state.read_text())
    if isinstance(recorded, list):  # the format before .env.local
        recorded = {"servers": recorded, "env_local": ""}
    if recorded["env_local"]:
        remove_env_local(recorded["env_local"])
    _stop(recorded["servers"])
    state.unlink()


async def _shutdown_redis(port: int) -> None:
    import redis.asyncio as redis

    client = redis.Redis(host="127.0.0.1", port=port)
    try:
        await client.shutdown(nosave=True)
    except redis.ConnectionError:
        pass  # the server closes the connection as it exits
    finally:
        await client.aclose()


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "up"
    if command == "up" and "--test" in sys.argv[2:]:
        command = "up-test"
    {"up": up, "up-test": up_test, "down": down}[command]()
