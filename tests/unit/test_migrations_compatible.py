"""Every migration leaves a schema the previous version of ADOLF still works on (README "Running it in production").

An upgrade runs `adolf migrate` first and then replaces the workers one by one, so for a while workers of the old
version run on the new schema, and going back to the old version needs no down-migration. That holds as long as a
migration only adds (tables, nullable or defaulted columns, indexes) or relaxes (DROP NOT NULL, a dropped check).
A migration that cannot follow this needs a two-step upgrade written up in the README, and an entry in ALLOWED.
"""

from __future__ import annotations

import re

import pytest

from adolf.db.migrate import Migration, load_migrations

BREAKING = [
    (r"^DROP\s+TABLE\b", "drops a table"),
    (r"\bDROP\s+(COLUMN\b|(?!CONSTRAINT\b|DEFAULT\b|NOT\b)\w+\s*(,|$))", "drops a column"),
    (r"\bRENAME\b", "renames something"),
    (r"\bSET\s+NOT\s+NULL\b", "makes a column NOT NULL"),
    (r"\bALTER\s+(COLUMN\s+)?\w+\s+(SET\s+DATA\s+)?TYPE\b", "changes a column's type"),
    (r"^TRUNCATE\b", "empties a table"),
]
ALLOWED: dict[int, str] = {}  # version -> why it may break the previous version, and where the README says how


def _statements(sql: str) -> list[str]:
    without_comments = re.sub(r"--[^\n]*", "", sql)
    return [" ".join(part.split()).upper() for part in without_comments.split(";") if part.strip()]


def _breaking(migration: Migration) -> list[str]:
    found = []
    for statement in _statements(migration.sql):
        if not statement.startswith(("ALTER TABLE", "DROP", "TRUNCATE")):
            continue  # CREATE TABLE, CREATE INDEX: new things
        found += [f"{what}: {statement}" for pattern, what in BREAKING if re.search(pattern, statement)]
        for column in re.findall(r"\bADD\s+(?:COLUMN\s+)?(?!CONSTRAINT\b)(.+?)(?=,\s*ADD\b|$)", statement):
            if "NOT NULL" in column and "DEFAULT" not in column:
                found.append(f"adds a NOT NULL column without a default (old INSERTs do not fill it): {statement}")
    return found


@pytest.mark.parametrize("migration", load_migrations()[1:], ids=lambda m: f"{m.version:04d}_{m.name}")
def test_a_migration_only_adds_or_relaxes(migration):
    if migration.version in ALLOWED:
        pytest.skip(ALLOWED[migration.version])
    assert _breaking(migration) == []


@pytest.mark.parametrize(
    "sql",
    [
        "ALTER TABLE t DROP COLUMN c;",
        "ALTER TABLE t DROP c;",
        "DROP TABLE t;",
        "ALTER TABLE t RENAME COLUMN a TO b;",
        "ALTER TABLE t RENAME TO u;",
        "ALTER TABLE t ALTER COLUMN c SET NOT NULL;",
        "ALTER TABLE t ALTER COLUMN c TYPE bigint;",
        "ALTER TABLE t ALTER c SET DATA TYPE bigint;",
        "ALTER TABLE t ADD COLUMN c text NOT NULL;",
        "ALTER TABLE t ADD COLUMN a int,\n    ADD COLUMN c text NOT NULL;",
        "TRUNCATE t;",
    ],
)
def test_the_check_sees_a_breaking_change(sql):
    assert _breaking(Migration(9999, "probe", sql))


@pytest.mark.parametrize(
    "sql",
    [
        "ALTER TABLE t ADD COLUMN c jsonb;",
        "ALTER TABLE t ADD COLUMN type text;",
        "ALTER TABLE t ADD COLUMN c text NOT NULL DEFAULT '';",
        "ALTER TABLE t ALTER COLUMN c DROP NOT NULL;",
        "ALTER TABLE t ALTER COLUMN c DROP DEFAULT;",
        "ALTER TABLE t DROP CONSTRAINT t_check;",
        "CREATE TABLE n (a int NOT NULL);",
        "CREATE INDEX n_idx ON n (a); -- DROP TABLE in a comment",
    ],
)
def test_the_check_lets_additions_and_relaxations_pass(sql):
    assert _breaking(Migration(9999, "probe", sql)) == []
