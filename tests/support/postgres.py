"""Test databases on the session's Postgres server: a migrated template, and a fresh copy per test.

Migrations run once into the template; each test gets `CREATE DATABASE ... TEMPLATE`, which copies
files instead of replaying SQL, so isolation costs a few milliseconds per test.
"""

from __future__ import annotations

import itertools

import asyncpg

from runledger.store import embedded, migrations

TEMPLATE = "runledger_template"
_counter = itertools.count()


async def create_template(server_uri: str) -> str:
    """(Re)creates the migrated template database and returns its name."""
    conn = await asyncpg.connect(server_uri)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}"')
        await conn.execute(f'CREATE DATABASE "{TEMPLATE}"')
    finally:
        await conn.close()
    conn = await asyncpg.connect(embedded.with_database(server_uri, TEMPLATE))
    try:
        await migrations.migrate(conn)
    finally:
        await conn.close()
    return TEMPLATE


async def create_database(server_uri: str, *, template: str | None) -> str:
    """A new database (a copy of `template`, or empty) and the URI that reaches it."""
    name = f"t_{next(_counter)}"
    conn = await asyncpg.connect(server_uri)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    finally:
        await conn.close()
    return embedded.with_database(server_uri, name)
