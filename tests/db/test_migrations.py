import asyncio
import sys

import asyncpg
import pytest

from adolf.db.migrate import load_migrations, migrate
from tests.conftest import _with_path
from tests.support.processes import ROOT


@pytest.fixture
async def empty_database(settings):
    url = _with_path(settings.database_url, "/adolf_test_migrations")
    admin = await asyncpg.connect(_with_path(settings.database_url, "/postgres"))
    await admin.execute('DROP DATABASE IF EXISTS "adolf_test_migrations" WITH (FORCE)')
    await admin.execute('CREATE DATABASE "adolf_test_migrations"')
    yield url
    await admin.execute('DROP DATABASE IF EXISTS "adolf_test_migrations" WITH (FORCE)')
    await admin.close()


async def _applied(url):
    conn = await asyncpg.connect(url)
    try:
        return [r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations ORDER BY version")]
    finally:
        await conn.close()


async def test_migrations_apply_on_an_empty_database_then_reapply_as_a_no_op(empty_database):
    versions = [m.version for m in load_migrations()]
    assert await migrate(empty_database) == versions
    assert await migrate(empty_database) == []
    assert await _applied(empty_database) == versions
    conn = await asyncpg.connect(empty_database)
    tables = {r["tablename"] for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    await conn.close()
    assert {
        "content_drafts",
        "generations",
        "publications",
        "notifications",
        "failed_jobs",
        "niches",
        "niche_trends",
        "niche_analyses",
        "reports",
        "api_tokens",
    } <= tables


async def test_two_concurrent_migrate_processes_apply_each_migration_once(empty_database):
    env = {"ADOLF_DATABASE_URL": empty_database, "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    runs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "adolf",
            "migrate",
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        for _ in range(2)
    ]
    outputs = [(await run.communicate())[0].decode() for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert sum("applied migrations" in out for out in outputs) == 1
    assert sum("up to date" in out for out in outputs) == 1
    assert await _applied(empty_database) == [m.version for m in load_migrations()]


async def test_concurrent_migrations_in_one_process_serialise_on_the_lock(empty_database):
    results = await asyncio.gather(*(migrate(empty_database) for _ in range(4)))
    assert sorted(results, key=len) == [[], [], [], [m.version for m in load_migrations()]]
