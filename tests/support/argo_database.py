"""Argo's persistence database, built the way Argo builds it, and filled the way Argo fills it.

The schema is made by replaying, in order, the changes of Argo's own schema migration
(argoproj/argo-workflows, ``persist/sqldb/migrate.go``, the list passed to ``sqldb.Migrate``; the
order matters: the offload table is created as the old ``argo_workflows`` layout and altered into
today's, the archive is renamed from ``argo_workflow_history``). Statements are written per dialect
where Argo's are (``sqldb.ByType``); Argo's ``backfillNodes`` step rewrites existing rows and is a
no-op on an empty database, so it is left out.

Rows are written as Argo's ``persist/sqldb`` repositories write them: the offload table keyed by
(clustername, uid, version) with ``version`` the ``fnv:`` hash of the node map's JSON
(``offload_node_status_repo.go``), the archive with its labels table (``workflow_archive.go``,
including the Postgres ``\\u0000`` replacement).
"""

from __future__ import annotations

import base64
import gzip
from datetime import datetime, timezone
from typing import Any

import asyncpg
import orjson

from tests.support.postgres import create_database

OFFLOAD_TABLE = "argo_workflows"  # nodeStatusOffLoad's default table name
CLUSTER = "default"  # Argo's default cluster name
POSTGRES_NULL_REPLACEMENT = "ARGO_POSTGRES_NULL_REPLACEMENT"


def migration(dialect: str, *, table: str = OFFLOAD_TABLE, cluster: str = CLUSTER) -> list[str]:
    """Argo's schema changes, in Argo's order, for 'postgres' or 'mysql'."""
    my = dialect == "mysql"

    def by_type(mysql: str | None, postgres: str | None) -> list[str]:
        chosen = mysql if my else postgres
        return [chosen] if chosen else []

    def drop_index(name: str, on: str) -> list[str]:
        return by_type(f"drop index {name} on {on}", f"drop index {name}")

    def drop_pk(on: str, pg_name: str) -> list[str]:
        return by_type(f"alter table {on} drop primary key", f"alter table {on} drop constraint {pg_name}")

    def not_null(on: str, column: str, mysql_type: str) -> list[str]:
        return by_type(f"alter table {on} modify column {column} {mysql_type} not null",
                       f"alter table {on} alter column {column} set not null")  # fmt: skip

    a = "argo_archived_workflows"
    return [
        f"""create table if not exists {table} (
    id varchar(128) ,
    name varchar(256),
    phase varchar(25),
    namespace varchar(256),
    workflow text,
    startedat timestamp default CURRENT_TIMESTAMP,
    finishedat timestamp default CURRENT_TIMESTAMP,
    creationtimestamp timestamp default CURRENT_TIMESTAMP,
    primary key (id, namespace)
)""",
        f"create unique index idx_name on {table} (name)",
        """create table if not exists argo_workflow_history (
    id varchar(128) ,
    name varchar(256),
    phase varchar(25),
    namespace varchar(256),
    workflow text,
    startedat timestamp default CURRENT_TIMESTAMP,
    finishedat timestamp default CURRENT_TIMESTAMP,
    primary key (id, namespace)
)""",
        "alter table argo_workflow_history rename to argo_archived_workflows",
        *drop_index("idx_name", table),
        f"create unique index idx_name on {table}(name, namespace)",
        *drop_pk(table, f"{table}_pkey"),
        f"alter table {table} add primary key(name,namespace)",
        *drop_pk(a, "argo_workflow_history_pkey"),
        f"alter table {a} add primary key(id)",
        *by_type(f"alter table {a} change column id uid varchar(128)", f"alter table {a} rename column id to uid"),
        *not_null(a, "uid", "varchar(128)"),
        *not_null(a, "phase", "varchar(25)"),
        *not_null(a, "namespace", "varchar(256)"),
        *not_null(a, "workflow", "text"),
        *by_type(f"alter table {a} modify column startedat timestamp not null default CURRENT_TIMESTAMP",
                 f"alter table {a} alter column startedat set not null"),  # fmt: skip
        *by_type(f"alter table {a} modify column finishedat timestamp not null default CURRENT_TIMESTAMP",
                 f"alter table {a} alter column finishedat set not null"),  # fmt: skip
        f"alter table {a} add clustername varchar(64)",
        f"update {a} set clustername = '{cluster}' where clustername is null",
        *not_null(a, "clustername", "varchar(64)"),
        *drop_pk(a, f"{a}_pkey"),
        f"alter table {a} add primary key(clustername,uid)",
        f"create index {a}_i1 on {a} (clustername,namespace)",
        f"alter table {table} drop column phase",
        f"alter table {table} drop column startedat",
        f"alter table {table} drop column finishedat",
        *by_type(f"alter table {table} change column id uid varchar(128)", f"alter table {table} rename column id to uid"),
        *not_null(table, "uid", "varchar(128)"),
        *not_null(table, "namespace", "varchar(256)"),
        f"alter table {table} add column clustername varchar(64)",
        f"update {table} set clustername = '{cluster}' where clustername is null",
        *not_null(table, "clustername", "varchar(64)"),
        f"alter table {table} add column version varchar(64)",
        f"alter table {table} add column nodes text",
        *not_null(table, "nodes", "text"),
        f"alter table {table} drop column workflow",
        f"alter table {table} add column updatedat timestamp not null default current_timestamp",
        *drop_pk(table, f"{table}_pkey"),
        *drop_index("idx_name", table),
        f"alter table {table} drop column name",
        f"alter table {table} add primary key(clustername,uid,version)",
        f"create index {table}_i1 on {table} (clustername,namespace)",
        *by_type(f"alter table {a} modify column workflow json not null",
                 f"alter table {a} alter column workflow type json using workflow::json"),  # fmt: skip
        *not_null(a, "name", "varchar(256)"),
        f"create index {table}_i2 on {table} (clustername,namespace,updatedat)",
        f"""create table if not exists {a}_labels (
    clustername varchar(64) not null,
    uid varchar(128) not null,
    name varchar(317) not null,
    value varchar(63) not null,
    primary key (clustername, uid, name),
    foreign key (clustername, uid) references {a}(clustername, uid) on delete cascade
)""",
        *by_type(f"alter table {table} modify column nodes json not null",
                 f"alter table {table} alter column nodes type json using nodes::json"),  # fmt: skip
        f"alter table {a} add column instanceid varchar(64)",
        f"update {a} set instanceid = '' where instanceid is null",
        *not_null(a, "instanceid", "varchar(64)"),
        *drop_index(f"{a}_i1", a),
        f"create index {a}_i1 on {a} (clustername,instanceid,namespace)",
        *drop_index(f"{a}_i1", a),
        f"create index {a}_i1 on {a} (clustername, instanceid, namespace, startedat DESC)",
        *drop_index(f"{table}_i1", table),
        *drop_index(f"{table}_i2", table),
        f"create index {table}_i1 on {table} (clustername,namespace,updatedat)",
        f"create index {a}_i2 on {a} (clustername,instanceid,finishedat)",
        f"create index {a}_i3 on {a} (clustername,instanceid,name)",
        f"create index {a}_i4 on {a} (startedat)",
        f"create index {a}_labels_i1 on {a}_labels (name,value)",
        *by_type(None, f"alter table {a} alter column workflow set data type jsonb using workflow::jsonb"),
        *drop_index(f"{a}_i4", a),
        f"create index {a}_i4 on {a} (clustername, startedat)",
        f"alter table {a} add column creationtimestamp timestamp null",
        f"update {a} set creationtimestamp = startedat where creationtimestamp is null",
        *by_type(f"alter table {a} modify column creationtimestamp timestamp not null default CURRENT_TIMESTAMP",
                 f"alter table {a} alter column creationtimestamp set default CURRENT_TIMESTAMP"),  # fmt: skip
        f"create index {a}_i5 on {a} (creationtimestamp)",
    ]


def node_status_version(nodes: dict[str, Any]) -> tuple[str, str]:
    """(the JSON Argo stores, its version): 'fnv:' and the 32-bit FNV-1 hash of that JSON, as Argo computes it."""
    marshalled = _go_json(nodes)
    h = 0x811C9DC5
    for byte in marshalled.encode():
        h = (h * 0x01000193) & 0xFFFFFFFF
        h ^= byte
    return marshalled, f"fnv:{h}"


def _go_json(value: Any) -> str:
    # Go's encoding/json sorts map keys and writes no spaces.
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def compress(text: str) -> str:
    """gzip + base64, as Argo's file.CompressEncodeString writes it."""
    return base64.b64encode(gzip.compress(text.encode())).decode()


def offloaded(workflow: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the workflow as the controller leaves it once its nodes are offloaded, the node map)."""
    status = dict(workflow.get("status") or {})
    nodes = status.pop("nodes", None) or {}
    status.pop("compressedNodes", None)
    _, version = node_status_version(nodes)
    status["offloadNodeStatusVersion"] = version
    return {**workflow, "status": status}, nodes


def _ts(value: Any) -> datetime:
    if not value:
        return datetime(1970, 1, 1, 0, 0, 1)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(timezone.utc).replace(tzinfo=None)


def archive_row(workflow: dict[str, Any], *, dialect: str, cluster: str = CLUSTER) -> tuple[tuple, list[tuple]]:
    """(the argo_archived_workflows row, its label rows), as Argo's ArchiveWorkflow writes them."""
    meta, status = workflow["metadata"], workflow.get("status") or {}
    labels = {**(meta.get("labels") or {}), "workflows.argoproj.io/workflow-archiving-status": "Persisted"}
    workflow = {**workflow, "metadata": {**meta, "labels": labels}}
    text = orjson.dumps(workflow).decode()
    if dialect == "postgres":
        text = text.replace("\\u0000", POSTGRES_NULL_REPLACEMENT)
    row = (
        cluster, "", meta["uid"], meta["name"], meta.get("namespace") or "default", status.get("phase") or "",
        _ts(status.get("startedAt")), _ts(status.get("finishedAt")), _ts(meta.get("creationTimestamp")), text,
    )  # fmt: skip
    return row, [(cluster, meta["uid"], k, v) for k, v in labels.items()]


_ARCHIVE_COLUMNS = "clustername, instanceid, uid, name, namespace, phase, startedat, finishedat, creationtimestamp, workflow"
_OFFLOAD_COLUMNS = "clustername, uid, version, namespace, nodes"


class PostgresArgo:
    """Argo's database on Postgres (asyncpg)."""

    dialect = "postgres"

    def __init__(self, url: str) -> None:
        self.url = url

    async def create(self) -> None:
        conn = await asyncpg.connect(self.url)
        try:
            for statement in migration("postgres"):
                await conn.execute(statement)
        finally:
            await conn.close()

    async def archive(self, workflows: list[dict[str, Any]], *, cluster: str = CLUSTER) -> None:
        conn = await asyncpg.connect(self.url)
        try:
            for wf in workflows:
                row, labels = archive_row(wf, dialect="postgres", cluster=cluster)
                await conn.execute(f"insert into argo_archived_workflows ({_ARCHIVE_COLUMNS}) values "
                                   f"($1,$2,$3,$4,$5,$6,$7,$8,$9,$10::jsonb)", *row)  # fmt: skip
                await conn.executemany("insert into argo_archived_workflows_labels values ($1,$2,$3,$4)", labels)
        finally:
            await conn.close()

    async def offload(self, uid: str, namespace: str, nodes: dict[str, Any], *, compressed: bool = False) -> str:
        """Write the node map as Argo does; `compressed`: as builds with OFFLOAD_NODE_STATUS_COMPRESSED do."""
        marshalled, version = node_status_version(nodes)
        conn = await asyncpg.connect(self.url)
        try:
            if compressed:
                await conn.execute(f"alter table {OFFLOAD_TABLE} add column if not exists compressednodes text")
                await conn.execute(f"insert into {OFFLOAD_TABLE} ({_OFFLOAD_COLUMNS}, compressednodes) "
                                   "values ($1,$2,$3,$4,'null'::json,$5)", CLUSTER, uid, version, namespace,
                                   compress(marshalled))  # fmt: skip
            else:
                await conn.execute(f"insert into {OFFLOAD_TABLE} ({_OFFLOAD_COLUMNS}) values ($1,$2,$3,$4,$5::json)",
                                   CLUSTER, uid, version, namespace, marshalled)  # fmt: skip
        finally:
            await conn.close()
        return version


class MySQLArgo:
    """Argo's database on MariaDB (pymysql over the server's socket)."""

    dialect = "mysql"

    def __init__(self, server: Any, database: str) -> None:
        self.server, self.database = server, database
        self.url = server.url(database)

    async def create(self) -> None:
        with self.server.connect(self.database) as conn, conn.cursor() as cur:
            for statement in migration("mysql"):
                cur.execute(statement)

    async def archive(self, workflows: list[dict[str, Any]]) -> None:
        with self.server.connect(self.database) as conn, conn.cursor() as cur:
            for wf in workflows:
                row, labels = archive_row(wf, dialect="mysql")
                cur.execute(f"insert into argo_archived_workflows ({_ARCHIVE_COLUMNS}) values "
                            "(%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)", row)  # fmt: skip
                cur.executemany("insert into argo_archived_workflows_labels values (%s,%s,%s,%s)", labels)

    async def offload(self, uid: str, namespace: str, nodes: dict[str, Any], *, compressed: bool = False) -> str:
        marshalled, version = node_status_version(nodes)
        with self.server.connect(self.database) as conn, conn.cursor() as cur:
            if compressed:
                cur.execute(f"alter table {OFFLOAD_TABLE} add column if not exists compressednodes text")
                cur.execute(f"insert into {OFFLOAD_TABLE} ({_OFFLOAD_COLUMNS}, compressednodes) values "
                            "(%s,%s,%s,%s,'null',%s)", (CLUSTER, uid, version, namespace, compress(marshalled)))  # fmt: skip
            else:
                cur.execute(f"insert into {OFFLOAD_TABLE} ({_OFFLOAD_COLUMNS}) values (%s,%s,%s,%s,%s)",
                            (CLUSTER, uid, version, namespace, marshalled))  # fmt: skip
        return version


async def new_argo_database(dialect: str, *, pg_server_uri: str | None = None, mariadb: Any = None):
    """A new database on the test's Postgres or MariaDB server, with Argo's schema in it."""
    if dialect == "postgres":
        argo: PostgresArgo | MySQLArgo = PostgresArgo(await create_database(pg_server_uri, template=None))
    else:
        argo = MySQLArgo(mariadb, mariadb.create_database())
    await argo.create()
    return argo


def as_stored(obj: dict[str, Any]) -> dict[str, Any]:
    """A fixture (YAML dates and all) as the JSON a controller writes, read back."""
    return orjson.loads(orjson.dumps(obj))
