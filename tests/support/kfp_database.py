"""KFP's API server database (``run_details``, ``experiments``), as KFP's API server creates it.

KFP creates these tables with gorm's AutoMigrate from its models (kubeflow/pipelines,
``backend/src/apiserver/model/run.go``: ``Run`` = its own columns + ``PipelineSpec``
(``pipeline_spec.go``) + ``RuntimeConfig`` (``runtime_config.go``) + ``RunDetails``;
``experiment.go``). The DDL below is what gorm derives from those tags: column names as the
``column:`` tags, strings varchar(255) unless sized, ``type:longtext`` and sizes of 64 KB and more
as longtext on MySQL; on Postgres, where gorm quotes the CamelCase names, text.

Rows are filled from the real KFP runtime manifests in ``tests/fixtures/kfp``.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson

from tests.support.postgres import create_database

_RUN_COLUMNS = [  # (name, MySQL type, Postgres type, NOT NULL)
    ("UUID", "varchar(255)", "varchar(255)", True),
    ("DisplayName", "varchar(255)", "varchar(255)", True),
    ("Name", "varchar(255)", "varchar(255)", True),
    ("Description", "varchar(255)", "varchar(255)", True),
    ("Namespace", "varchar(255)", "varchar(255)", True),
    ("ExperimentUUID", "varchar(255)", "varchar(255)", True),
    ("JobUUID", "varchar(255)", "varchar(255)", False),
    ("StorageState", "varchar(255)", "varchar(255)", True),
    ("ServiceAccount", "varchar(255)", "varchar(255)", True),
    ("PipelineId", "varchar(255)", "varchar(255)", True),
    ("PipelineVersionId", "varchar(255)", "varchar(255)", False),
    ("PipelineName", "varchar(255)", "varchar(255)", True),
    ("PipelineSpecManifest", "longtext", "text", False),
    ("WorkflowSpecManifest", "longtext", "text", False),
    ("Parameters", "longtext", "text", False),
    ("RuntimeParameters", "longtext", "text", False),
    ("PipelineRoot", "longtext", "text", False),
    ("CreatedAtInSec", "bigint", "bigint", True),
    ("ScheduledAtInSec", "bigint DEFAULT 0", "bigint DEFAULT 0", False),
    ("FinishedAtInSec", "bigint DEFAULT 0", "bigint DEFAULT 0", False),
    ("Conditions", "varchar(255)", "varchar(255)", True),
    ("State", "varchar(255)", "varchar(255)", False),
    ("StateHistory", "longtext", "text", False),
    ("PipelineRuntimeManifest", "longtext", "text", True),
    ("WorkflowRuntimeManifest", "longtext", "text", True),
    ("PipelineContextId", "bigint DEFAULT 0", "bigint DEFAULT 0", False),
    ("PipelineRunContextId", "bigint DEFAULT 0", "bigint DEFAULT 0", False),
]
_EXPERIMENT_COLUMNS = [
    ("UUID", "varchar(255)", "varchar(255)", True),
    ("Name", "varchar(255)", "varchar(255)", True),
    ("Description", "varchar(255)", "varchar(255)", True),
    ("CreatedAtInSec", "bigint", "bigint", True),
    ("LastRunCreatedAtInSec", "bigint", "bigint", True),
    ("Namespace", "varchar(255)", "varchar(255)", True),
    ("StorageState", "varchar(255)", "varchar(255)", True),
]


def ddl(dialect: str) -> list[str]:
    quote = (lambda n: f"`{n}`") if dialect == "mysql" else (lambda n: f'"{n}"')

    def table(name: str, columns: list[tuple[str, str, str, bool]]) -> str:
        cols = [
            f"{quote(c)} {my if dialect == 'mysql' else pg}{' NOT NULL' if not_null else ''}"
            for c, my, pg, not_null in columns
        ]
        return f"CREATE TABLE {name} ({', '.join(cols)}, PRIMARY KEY ({quote('UUID')}))"

    return [
        table("run_details", _RUN_COLUMNS),
        table("experiments", _EXPERIMENT_COLUMNS),
        # gorm's unique_index:idx_name_namespace on experiments
        f"CREATE UNIQUE INDEX idx_name_namespace ON experiments ({quote('Name')}, {quote('Namespace')})",
    ]


def run_row(
    workflow: dict[str, Any] | None,
    *,
    uuid: str,
    display_name: str,
    experiment: str,
    pipeline_name: str = "",
    storage_state: str = "AVAILABLE",
    state: str = "SUCCEEDED",
    manifest_text: str | None = None,
    v2: bool = False,
) -> dict[str, Any]:
    """A run_details row as KFP's API server writes it; the manifest in the v1 or the v2 column."""
    meta = (workflow or {}).get("metadata") or {}
    text = manifest_text if manifest_text is not None else (orjson.dumps(workflow).decode() if workflow else "")
    return {
        "UUID": uuid, "DisplayName": display_name, "Name": meta.get("name") or f"run-{uuid[:8]}", "Description": "",
        "Namespace": meta.get("namespace") or "kubeflow", "ExperimentUUID": experiment, "JobUUID": None,
        "StorageState": storage_state, "ServiceAccount": "pipeline-runner", "PipelineId": f"p-{pipeline_name}",
        "PipelineVersionId": None, "PipelineName": pipeline_name, "PipelineSpecManifest": None,
        "WorkflowSpecManifest": None, "Parameters": None, "RuntimeParameters": None, "PipelineRoot": None,
        "CreatedAtInSec": 1_700_000_000, "ScheduledAtInSec": 1_700_000_001, "FinishedAtInSec": 1_700_000_100,
        "Conditions": "Succeeded", "State": state, "StateHistory": None,
        "PipelineRuntimeManifest": text if v2 else "", "WorkflowRuntimeManifest": "" if v2 else text,
        "PipelineContextId": 0, "PipelineRunContextId": 0,
    }  # fmt: skip


def experiment_row(uuid: str, name: str) -> dict[str, Any]:
    return {
        "UUID": uuid, "Name": name, "Description": "", "CreatedAtInSec": 1_700_000_000,
        "LastRunCreatedAtInSec": 1_700_000_000, "Namespace": "kubeflow", "StorageState": "AVAILABLE",
    }  # fmt: skip


class PostgresKfp:
    dialect = "postgres"

    def __init__(self, url: str) -> None:
        self.url = url

    async def create(self) -> None:
        await self._run([(s, ()) for s in ddl("postgres")])

    async def insert(self, table: str, rows: list[dict[str, Any]]) -> None:
        statements = []
        for row in rows:
            names = ", ".join(f'"{c}"' for c in row)
            marks = ", ".join(f"${i}" for i in range(1, len(row) + 1))
            statements.append((f"INSERT INTO {table} ({names}) VALUES ({marks})", tuple(row.values())))
        await self._run(statements)

    async def _run(self, statements: list[tuple[str, tuple]]) -> None:
        conn = await asyncpg.connect(self.url)
        try:
            for sql, args in statements:
                await conn.execute(sql, *args)
        finally:
            await conn.close()


class MySQLKfp:
    dialect = "mysql"

    def __init__(self, server: Any, database: str) -> None:
        self.server, self.database = server, database
        self.url = server.url(database)

    async def create(self) -> None:
        with self.server.connect(self.database) as conn, conn.cursor() as cur:
            for statement in ddl("mysql"):
                cur.execute(statement)

    async def insert(self, table: str, rows: list[dict[str, Any]]) -> None:
        with self.server.connect(self.database) as conn, conn.cursor() as cur:
            for row in rows:
                names = ", ".join(f"`{c}`" for c in row)
                cur.execute(f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(row))})", tuple(row.values()))


async def new_kfp_database(dialect: str, *, pg_server_uri: str | None = None, mariadb: Any = None):
    if dialect == "postgres":
        kfp: PostgresKfp | MySQLKfp = PostgresKfp(await create_database(pg_server_uri, template=None))
    else:
        kfp = MySQLKfp(mariadb, mariadb.create_database())
    await kfp.create()
    return kfp
