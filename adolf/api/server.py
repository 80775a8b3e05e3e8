"""`adolf api` and `adolf token create`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from uuid import UUID

from aiohttp import web

from adolf.api.app import create_app
from adolf.api.tokens import create_token
from adolf.db.pool import create_pool
from adolf.settings import Settings

logger = logging.getLogger(__name__)


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    api = sub.add_parser("api", help="run the HTTP API (bearer tokens; OpenAPI at /openapi.json)")
    api.add_argument("--host", default=None, help="default ADOLF_API_HOST")
    api.add_argument("--port", type=int, default=None, help="default ADOLF_API_PORT")
    api.set_defaults(run=cmd_api)
    token = sub.add_parser("token", help="API tokens")
    token_sub = token.add_subparsers(dest="token", required=True)
    create = token_sub.add_parser("create", help="create a token and print it once (only its hash is stored)")
    create.add_argument("--user", required=True, type=_uuid, help="the user id the token acts for")
    create.add_argument("--read-only", action="store_true", help="may read, never write")
    create.add_argument("--name", default="", help="a label for the token")
    create.set_defaults(run=cmd_token_create)


def _uuid(value: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a UUID") from None


def cmd_token_create(settings: Settings, args: argparse.Namespace) -> int:
    async def work() -> str:
        db = await create_pool(settings.database_url, min_size=1, max_size=1)
        try:
            return await create_token(db, user_id=args.user, name=args.name, read_only=args.read_only)
        finally:
            await db.close()

    try:
        print(asyncio.run(work()))
    except OSError as exc:
        print(f"adolf token create: cannot reach PostgreSQL at ADOLF_DATABASE_URL: {exc}", file=sys.stderr)
        return 1
    return 0


async def serve(settings: Settings, host: str, port: int, stop: asyncio.Event) -> None:
    from adolf.client import AdolfClient

    # the history search is one statement with optional filters ("$1 IS NULL OR job_name = $1"): a generic plan,
    # which PostgreSQL may settle on for a prepared statement, could not use the filters' indexes
    db = await create_pool(
        settings.database_url,
        min_size=1,
        max_size=settings.db_pool_max,
        server_settings={"plan_cache_mode": "force_custom_plan"},
    )
    client = await AdolfClient.connect(settings)
    runner = web.AppRunner(create_app(db, client), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        logger.info("ADOLF API listening on http://%s:%s (OpenAPI: /openapi.json)", host, port)
        await stop.wait()
    finally:
        await runner.cleanup()
        await client.close()
        await db.close()


def cmd_api(settings: Settings, args: argparse.Namespace) -> int:
    host = args.host or settings.api_host
    port = settings.api_port if args.port is None else args.port

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await serve(settings, host, port, stop)

    try:
        asyncio.run(main())
    except OSError as exc:
        print(
            f"adolf api: cannot start on {host}:{port} ({exc.strerror or exc}); set ADOLF_API_PORT or --port",
            file=sys.stderr,
        )
        return 1
    return 0
