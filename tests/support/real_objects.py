"""Where the real Argo / Kubeflow Pipelines objects of `tests/fixtures/` are (see its SOURCES.md)."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def fixture_files() -> list[Path]:
    files = sorted(p for p in FIXTURES.rglob("*") if p.suffix in (".json", ".yaml", ".yml"))
    assert files, f"no fixtures found under {FIXTURES}"
    return files
