"""A corpus of bad replay inputs, generated into a directory (nothing large is committed).

Each case is one file (or directory) with the exact number of events a replay must read from it,
the runs those events carry, and the errors it must count, by kind. Good workflows sit before and
after the bad part, so a case also shows that what surrounds a fault is kept.
"""

from __future__ import annotations

import gzip
import json
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

BOM = "\ufeff"


@dataclass(frozen=True)
class Case:
    path: Path
    runs: list[str] = field(default_factory=list)  # names of the good workflows, one event each
    errors: dict[str, int] = field(default_factory=dict)  # by kind

    @property
    def events(self) -> int:
        return len(self.runs)


def workflow(name: str) -> dict:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": name, "namespace": "corpus", "uid": f"uid-{name}", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "status": {"phase": "Succeeded"},
    }


def event_line(name: str) -> str:
    return json.dumps({"type": "ADDED", "object": workflow(name)}) + "\n"


def yaml_document(name: str) -> str:
    return f"---\nkind: Workflow\napiVersion: argoproj.io/v1alpha1\nmetadata:\n  name: {name}\n  namespace: corpus\n  uid: uid-{name}\n"


def bom_jsonl(d: Path) -> Case:
    path = d / "bom.jsonl"
    path.write_text(BOM + event_line("bom-1") + event_line("bom-2"), encoding="utf-8")
    return Case(path, ["bom-1", "bom-2"])


def bom_yaml(d: Path) -> Case:
    path = d / "bom.yaml"
    path.write_text(BOM + yaml_document("bom-yaml").removeprefix("---\n"), encoding="utf-8")
    return Case(path, ["bom-yaml"])


def deep_yaml(d: Path, *, depth: int = 3000) -> Case:
    path = d / "deep.yaml"
    deep = "---\n" + "".join(" " * i + "a:\n" for i in range(depth)) + " " * depth + "b: 1\n"
    path.write_text(yaml_document("deep-before") + deep + yaml_document("deep-after"))
    return Case(path, ["deep-before", "deep-after"], {"too_deep": 1})


def truncated_gz(d: Path) -> Case:
    """Two complete gzip members, then one cut in half: what the complete ones hold is read."""
    path = d / "truncated.jsonl.gz"
    whole = gzip.compress((event_line("gz-1") + event_line("gz-2")).encode(), mtime=0)
    cut = gzip.compress(event_line("gz-lost").encode(), mtime=0)
    path.write_bytes(whole + cut[: len(cut) // 2])
    return Case(path, ["gz-1", "gz-2"], {"unreadable": 1})


def not_gzip_gz(d: Path) -> Case:
    path = d / "plain.jsonl.gz"
    path.write_text(event_line("not-really-gzip"))
    return Case(path, [], {"unreadable": 1})


def python_tag_yaml(d: Path) -> Case:
    path = d / "python-tag.yaml"
    bad = "---\nkind: Workflow\nmetadata: !!python/object/apply:os.system [\"echo owned\"]\n"
    path.write_text(yaml_document("tag-before") + bad + yaml_document("tag-after"))
    return Case(path, ["tag-before", "tag-after"], {"invalid_yaml": 1})


def syntax_error_yaml(d: Path) -> Case:
    path = d / "syntax.yaml"
    bad = "---\nkind: Workflow\nmetadata: {name: [unclosed\n"
    path.write_text(yaml_document("syntax-before") + bad + yaml_document("syntax-after"))
    return Case(path, ["syntax-before", "syntax-after"], {"invalid_yaml": 1})


def alias_bomb_yaml(d: Path, *, levels: int = 9) -> Case:
    """Billion laughs in a parameter value: under 1 KB of text, 10**levels strings once expanded."""
    path = d / "alias-bomb.yaml"
    anchors = "  l0: &l0 [" + ", ".join(["lol"] * 10) + "]\n"
    anchors += "".join(f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]\n" for i in range(1, levels))
    bomb = (
        "---\nkind: Workflow\napiVersion: argoproj.io/v1alpha1\nmetadata:\n  name: bomb\n  namespace: corpus\n"
        f"laughs:\n{anchors}spec:\n  arguments:\n    parameters:\n    - name: p\n      value: *l{levels - 1}\n"
    )
    path.write_text(yaml_document("bomb-before") + bomb + yaml_document("bomb-after"))
    return Case(path, ["bomb-before", "bomb-after"], {"yaml_aliases": 1})


def garbage_lines(d: Path, *, lines: int = 20_000) -> Case:
    path = d / "garbage.jsonl"
    path.write_text(event_line("garbage-before") + "x\n" * lines + event_line("garbage-after"))
    return Case(path, ["garbage-before", "garbage-after"], {"not_json": lines})


def binary_garbage(d: Path, *, lines: int = 64) -> Case:
    """Random bytes, none of them a line break, in `lines` lines that each open with a non-JSON byte."""
    path = d / "binary.dat"
    rng = random.Random(7)
    alphabet = bytes(b for b in range(256) if b not in b"\n\r")
    path.write_bytes(b"".join(b"\xff" + bytes(rng.choices(alphabet, k=200)) + b"\n" for _ in range(lines)))
    return Case(path, [], {"not_json": lines})


def a_directory(d: Path) -> Case:
    path = d / "a-directory.jsonl"
    path.mkdir()
    return Case(path, [], {"unreadable": 1})


def empty_file(d: Path) -> Case:
    path = d / "empty.jsonl"
    path.write_bytes(b"")
    return Case(path, [])


CASES: list[Callable[[Path], Case]] = [
    bom_jsonl, bom_yaml, deep_yaml, truncated_gz, not_gzip_gz, python_tag_yaml, syntax_error_yaml,
    alias_bomb_yaml, garbage_lines, binary_garbage, a_directory, empty_file,
]  # fmt: skip


def write_corpus(directory: Path) -> list[Case]:
    directory.mkdir(parents=True, exist_ok=True)
    return [make(directory) for make in CASES]


def expected_errors(cases: list[Case]) -> Counter[str]:
    return sum((Counter(case.errors) for case in cases), Counter())
