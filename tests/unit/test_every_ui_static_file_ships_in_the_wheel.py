"""Every file the UI serves is named by the package data, so a wheel (pip install, no checkout) holds the whole UI."""

from __future__ import annotations

import tomllib
from pathlib import Path

import runledger.ui

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(runledger.ui.__file__).parent


def test_each_static_file_matches_a_package_data_pattern():
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["runledger.ui"]
    files = [p.relative_to(PACKAGE) for p in (PACKAGE / "static").rglob("*") if p.is_file()]
    assert files
    # As setuptools reads a pattern: `*` stays within one folder.
    left_out = [str(f) for f in files
                if not any(len(f.parts) == len(Path(p).parts) and f.match(p) for p in patterns)]  # fmt: skip
    assert left_out == []
