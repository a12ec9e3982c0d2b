"""Import source: KFP's API server database (``run_details`` joined to ``experiments``), MySQL or Postgres.

KFP stores each run's Argo Workflow as it last saw it: ``WorkflowRuntimeManifest`` (v1 API runs)
or ``PipelineRuntimeManifest`` (v2). That Workflow becomes the run, through the ingest path, so a run
imported from here, from Argo's archive and watched live is one run (metadata.uid). KFP's run id is
added as the ``pipeline/runid`` label when the Workflow lacks it (KFP sets it on the runs it starts).

What the Workflow does not hold (the display name, the experiment, the pipeline, whether the run is
archived in KFP) is written beside the run, in ``kfp_run_details``, once the run is stored. A run
with no manifest (KFP never saw its Workflow, or lost it) becomes a run without steps, under KFP's
run id, its phase taken from KFP's state, flagged ``has_manifest = false``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import asyncpg

from runledger.backfill.importing import ImportRow, parse_workflow
from runledger.agent.source_databases import SourceDatabase, redacted
from runledger.agent.translate import LABEL_KFP_RUN_ID, run_id_for
from runledger.store.kfp_run_details import KfpRunDetails, write_kfp_run_details

# KFP's run states (v2 names, and the v1 ones still found in old rows' Conditions) -> Argo phases.
_PHASES = {
    "PENDING": "Pending", "RUNNING": "Running", "PAUSED": "Running", "CANCELING": "Running",
    "SUCCEEDED": "Succeeded", "SKIPPED": "Succeeded", "FAILED": "Failed", "CANCELED": "Failed",
    "ERROR": "Error", "TERMINATING": "Running", "DONE": "Succeeded",
}  # fmt: skip
_STORAGE_STATES = {"STORAGESTATE_AVAILABLE": "AVAILABLE", "STORAGESTATE_ARCHIVED": "ARCHIVED"}


class KfpRuns:
    kind = "kfp"

    def __init__(self, *, source: SourceDatabase) -> None:
        self._source = source
        self.scope = redacted(source.url)

    async def read(self, *, after: str | None, limit: int) -> list[ImportRow]:
        rows = await self._source.fetch("kfp_runs_page", (after or "", limit))
        return [self._row(r) for r in rows]

    async def count(self, *, after: str | None) -> int:
        return (await self._source.fetch("kfp_runs_count", (after or "",)))[0]["rows"]

    def _row(self, r: dict[str, Any]) -> ImportRow:
        kfp_run_id = r["uuid"]
        manifest = _text(r["workflow_manifest"]) or _text(r["pipeline_manifest"])
        ref = f"KFP run {kfp_run_id}"
        if manifest:
            row = parse_workflow(manifest, key=kfp_run_id, ref=ref, what="stored workflow manifest")
            if row.workflow is not None:
                _label_with_run_id(row.workflow, kfp_run_id)
        else:
            row = ImportRow(key=kfp_run_id, ref=ref, workflow=_workflow_without_manifest(r))
        if row.workflow is not None and isinstance(row.workflow.get("metadata"), dict):
            row.extra = KfpRunDetails(
                run_id=run_id_for(row.workflow["metadata"]),
                kfp_run_id=kfp_run_id,
                display_name=_text(r["display_name"]) or None,
                experiment_id=_text(r["experiment_id"]) or None,
                experiment_name=_text(r["experiment_name"]) or None,
                pipeline_id=_text(r["pipeline_id"]) or None,
                pipeline_name=_text(r["pipeline_name"]) or None,
                storage_state=_storage_state(r["storage_state"]),
                has_manifest=bool(manifest),
            )
        return row

    async def persisted(self, rows: list[ImportRow], *, pool: asyncpg.Pool) -> None:
        details = [row.extra for row in rows if row.extra is not None]
        async with pool.acquire() as conn:
            await write_kfp_run_details(conn, details)


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else ""


def _label_with_run_id(workflow: dict[str, Any], kfp_run_id: str) -> None:
    meta = workflow.get("metadata")
    if not isinstance(meta, dict):
        return
    labels = meta.get("labels")
    if not isinstance(labels, dict):
        labels = meta["labels"] = {}
    labels.setdefault(LABEL_KFP_RUN_ID, kfp_run_id)


def _storage_state(value: Any) -> str | None:
    text = _text(value).upper()
    return _STORAGE_STATES.get(text, text) or None


def _workflow_without_manifest(r: dict[str, Any]) -> dict[str, Any]:
    """The Workflow a run without a manifest is recorded as: what KFP's row says, and no nodes."""
    state = (_text(r["state"]) or _text(r["conditions"])).upper()
    status: dict[str, Any] = {"phase": _PHASES.get(state, "")}
    if r["finished_at"]:
        status["finishedAt"] = _rfc3339(r["finished_at"])
    if r["scheduled_at"]:
        status["startedAt"] = _rfc3339(r["scheduled_at"])
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {
            "name": _text(r["name"]) or r["uuid"],
            "namespace": _text(r["namespace"]) or "default",
            "uid": r["uuid"],
            "creationTimestamp": _rfc3339(r["created_at"]) if r["created_at"] else None,
            "labels": {LABEL_KFP_RUN_ID: r["uuid"]},
        },
        "status": status,
    }


def _rfc3339(seconds: int) -> str:
    return datetime.fromtimestamp(int(seconds), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
