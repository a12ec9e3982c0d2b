"""No test module imports conftest: pytest already loads it as `conftest`, and an import would load
it a second time as `tests.conftest`, with its own module state. Helpers live in tests/support/."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
CONFTEST = {"conftest", "tests.conftest"}


def conftest_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            modules = [node.module or ""] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        if CONFTEST & set(modules):
            found.append(f"{path.relative_to(TESTS.parent)}:{node.lineno}")
    return found


def test_no_module_under_tests_imports_conftest() -> None:
    offenders = [hit for path in sorted(TESTS.rglob("*.py")) for hit in conftest_imports(path)]
    assert not offenders, f"import helpers from tests/support/ instead of conftest: {offenders}"
