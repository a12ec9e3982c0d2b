"""Where the real Argo / Kubeflow Pipelines objects of `tests/fixtures/` are (see its SOURCES.md)."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def fixture_files() -> list[Path]:
    # openlineage/ holds the OpenLineage spec's schemas, not workflows.
    files = sorted(p for p in FIXTURES.rglob("*") if p.suffix in (".json", ".yaml", ".yml")
                   and p.parent.name != "openlineage")  # fmt: skip
    assert files, f"no fixtures found under {FIXTURES}"
    return files
