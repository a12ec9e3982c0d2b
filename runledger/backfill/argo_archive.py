"""Import source: Argo's workflow archive (``argo_archived_workflows``), Postgres or MySQL.

The archive holds each archived workflow whole, as its ``workflow`` column (json, jsonb on
Postgres). It is read in keyset order of its primary key (clustername, uid); ``--namespace`` and
``--since`` (started at or after) narrow it, and are part of the checkpoint's name, so an import with
other filters starts afresh. The labels table ``argo_archived_workflows_labels`` only indexes labels
the document already holds (Argo writes both from the same map in one transaction), so it is not read.

On Postgres Argo replaces ``\\u0000`` escapes, which jsonb refuses, with a marker; the marker is
turned back into the escape, as Argo does when it reads the archive.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import asyncpg
import orjson

from runledger.backfill.importing import ImportRow, parse_workflow
from runledger.agent.source_databases import SourceDatabase, redacted

POSTGRES_NULL_REPLACEMENT = "ARGO_POSTGRES_NULL_REPLACEMENT"
_START = ("", "")  # sorts before every (clustername, uid)


class ArgoArchive:
    kind = "argo-archive"

    def __init__(self, *, source: SourceDatabase, namespace: str | None = None, since: datetime | None = None) -> None:
        self._source = source
        self._namespace = namespace or None
        # Argo stores UTC in timestamp columns without a zone.
        self._since = since.astimezone(timezone.utc).replace(tzinfo=None) if since and since.tzinfo else since
        self.scope = f"{redacted(source.url)} namespace={self._namespace or '*'} since={self._since or '-'}"

    async def read(self, *, after: str | None, limit: int) -> list[ImportRow]:
        rows = await self._source.fetch("argo_archive_page", (*self._filters(after), limit))
        return [self._row(r) for r in rows]

    async def count(self, *, after: str | None) -> int:
        return (await self._source.fetch("argo_archive_count", self._filters(after)))[0]["rows"]

    def _filters(self, after: str | None) -> tuple:
        cluster, uid = tuple(orjson.loads(after)) if after else _START
        ns, since = self._namespace, self._since
        if self._source.dialect == "postgres":
            return (cluster, uid, ns, since)
        return (cluster, cluster, uid, ns, ns, since, since)

    def _row(self, r: dict[str, Any]) -> ImportRow:
        key = orjson.dumps([r["clustername"], r["uid"]]).decode()
        text = r["workflow"]
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        if self._source.dialect == "postgres" and text and POSTGRES_NULL_REPLACEMENT in text:
            text = text.replace(POSTGRES_NULL_REPLACEMENT, "\\u0000")
        return parse_workflow(text, key=key, ref=f"archived workflow {r['uid']} (cluster {r['clustername']})")

    async def persisted(self, rows: list[ImportRow], *, pool: asyncpg.Pool) -> None:
        return None
