"""deploy/Dockerfile: two stages on one pinned base, a non-root numeric user, `runledger` as entrypoint,
no HEALTHCHECK (Kubernetes probes do that) and no build tools in the final image."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
from dataclasses import dataclass, field

from tests.deploy.manifests import DEPLOY

DOCKERFILE = DEPLOY / "Dockerfile"
DOCKERIGNORE = DEPLOY / "Dockerfile.dockerignore"  # BuildKit's per-Dockerfile ignore file
BUILD_TOOLS = re.compile(r"\b(gcc|g\+\+|cc|make|build-essential|apt-get|apk|python3?-dev|libpq-dev)\b")


@dataclass
class Stage:
    image: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) with continuation lines joined and comments dropped."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    out = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, args = line.strip().partition(" ")
            out.append((keyword.upper(), " ".join(args.split())))
    return out


def stages() -> list[Stage]:
    args: dict[str, str] = {}
    result: list[Stage] = []
    for keyword, rest in instructions(DOCKERFILE.read_text()):
        if keyword == "ARG" and not result:
            name, _, default = rest.partition("=")
            args[name] = default
        elif keyword == "FROM":
            words = [w for w in rest.split() if not w.startswith("--")]
            image = re.sub(r"\$\{?(\w+)\}?", lambda m: args[m.group(1)], words[0])
            result.append(Stage(image, words[2] if len(words) == 3 and words[1].upper() == "AS" else None))
        else:
            result[-1].instructions.append((keyword, rest))
    return result


def test_build_has_a_builder_stage_and_a_final_stage_on_the_same_pinned_base():
    all_stages = stages()
    assert len(all_stages) >= 2
    bases = {s.image for s in all_stages}
    assert len(bases) == 1, f"the venv's interpreter must come from the same base: {bases}"
    [base] = bases
    name, _, tag = base.partition(":")
    assert name == "python"
    assert re.fullmatch(r"3\.\d+\.\d+-slim(-\w+)?", tag), f"{base} is not pinned to an exact patch release"


def test_final_stage_runs_runledger_as_a_numeric_non_root_user():
    final = stages()[-1]
    [user] = final.all("USER")
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) > 0
    assert json.loads(final.all("ENTRYPOINT")[-1]) == ["runledger"]
    assert json.loads(final.all("CMD")[-1]) == ["run"]


def test_final_stage_copies_only_the_virtualenv_and_installs_nothing():
    final = stages()[-1]
    copies = final.all("COPY")
    assert copies and all(c.startswith("--from=builder ") for c in copies)
    assert [c.split()[1] for c in copies] == [c.split()[2] for c in copies]  # the venv, at the same path
    for keyword, args in final.instructions:
        assert keyword != "RUN" or not BUILD_TOOLS.search(args), args
        assert keyword not in ("ADD", "HEALTHCHECK")
    env = " ".join(final.all("ENV"))
    assert "PYTHONDONTWRITEBYTECODE=1" in env and "PYTHONUNBUFFERED=1" in env


def test_no_stage_declares_a_healthcheck_or_uses_latest():
    text = DOCKERFILE.read_text()
    assert not any(kw == "HEALTHCHECK" for kw, _ in instructions(text))
    assert ":latest" not in text


def test_the_ignore_file_keeps_everything_the_builder_copies():
    patterns = [p for p in DOCKERIGNORE.read_text().splitlines() if p.strip() and not p.startswith("#")]

    def ignored(path: str) -> bool:
        verdict = False
        for pattern in patterns:
            negate = pattern.startswith("!")
            pattern = pattern.lstrip("!").rstrip("/")
            if fnmatch.fnmatch(path, pattern) or path.startswith(pattern + "/"):
                verdict = not negate
        return verdict

    builder = stages()[0]
    sources = [src for args in builder.all("COPY") for src in shlex.split(args)[:-1] if not src.startswith("--")]
    assert sources, "the builder copies the project"
    for source in sources:
        assert not ignored(source.rstrip("/")), f"{source} is excluded from the build context"
    assert ignored(".venv") and ignored(".git") and ignored("tests")
