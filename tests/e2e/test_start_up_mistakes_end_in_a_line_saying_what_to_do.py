"""Common start-up mistakes: a line or two naming what is wrong and what to do, no traceback, no password.

Exit code 2 for what the user gave (a setting, a file), 1 for a failure at run time (a port taken, a
database away). `--debug` shows the traceback.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.processes import free_port, runledger

PASSWORD = "s3cret-pw-7731"


@dataclass(frozen=True)
class Mistake:
    args: Callable[[Path], list[str]]
    env: Callable[[str, Path], dict[str, str]]
    code: int
    says: tuple[str, ...]  # each of these appears in the last two lines of stderr


def garbage(tmp: Path) -> str:
    (tmp / "garbage.bin").write_bytes(os.urandom(4096).replace(b"\n", b"\0"))
    return str(tmp / "garbage.bin")


def plain_text_gz(tmp: Path) -> str:
    (tmp / "events.jsonl.gz").write_text('{"type": "ADDED", "object": {"kind": "Workflow"}}\n')
    return str(tmp / "events.jsonl.gz")


def a_directory(tmp: Path) -> str:
    (tmp / "recordings").mkdir()
    return str(tmp / "recordings")


def dsn(url: str) -> Callable[[str, Path], dict[str, str]]:
    return lambda _, tmp: {"RUNLEDGER_DATABASE_URL": url, "RUNLEDGER_DATA_DIR": str(tmp)}


def real_db(dsn: str, tmp: Path) -> dict[str, str]:
    return {"RUNLEDGER_DATABASE_URL": dsn, "RUNLEDGER_DATA_DIR": str(tmp)}


MISTAKES = {
    "database refused": Mistake(
        args=lambda _: ["migrate"], env=dsn(f"postgresql://runledger:{PASSWORD}@127.0.0.1:{free_port()}/runledger"),
        code=1, says=("127.0.0.1", "refused", "RUNLEDGER_DATABASE_URL"),
    ),
    "unknown database host": Mistake(
        args=lambda _: ["migrate"], env=dsn(f"postgresql://runledger:{PASSWORD}@no-such-host.invalid/runledger"),
        code=1, says=("no-such-host.invalid", "RUNLEDGER_DATABASE_URL"),
    ),
    "a mysql DSN": Mistake(
        args=lambda _: ["migrate"], env=dsn(f"mysql://runledger:{PASSWORD}@db/runledger"),
        code=2, says=("RUNLEDGER_DATABASE_URL", "postgresql://"),
    ),
    "a malformed DSN": Mistake(
        args=lambda _: ["migrate"], env=dsn(f"postgresql://runledger:{PASSWORD}@db:port/runledger"),
        code=2, says=("RUNLEDGER_DATABASE_URL", "postgresql://"),
    ),
    "a mysql standby": Mistake(
        args=lambda _: ["api"],
        env=lambda dsn, tmp: {**real_db(dsn, tmp), "RUNLEDGER_DATABASE_REPLICA_URLS": f"mysql://r:{PASSWORD}@db/runledger"},
        code=2, says=("RUNLEDGER_DATABASE_REPLICA_URLS", "postgresql://", "hot standby"),
    ),
    "standbys without a primary": Mistake(
        args=lambda _: ["api"],
        env=lambda _, tmp: {"RUNLEDGER_DATA_DIR": str(tmp), "RUNLEDGER_DATABASE_REPLICA_URLS": "postgresql://r@db/runledger"},
        code=2, says=("RUNLEDGER_DATABASE_REPLICA_URLS", "RUNLEDGER_DATABASE_URL", "primary"),
    ),
    "a directory to replay": Mistake(
        args=lambda tmp: ["replay", a_directory(tmp)], env=real_db, code=2, says=("recordings", "directory"),
    ),
    "plain text named .gz": Mistake(
        args=lambda tmp: ["replay", plain_text_gz(tmp)], env=real_db, code=2, says=("events.jsonl.gz", "gzip"),
    ),
    "binary garbage": Mistake(
        args=lambda tmp: ["replay", garbage(tmp)], env=real_db, code=1, says=("nothing", "garbage.bin"),
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", MISTAKES)
async def test_a_start_up_mistake_ends_in_a_line_or_two_without_a_traceback(name, dsn, tmp_path):
    mistake = MISTAKES[name]
    code, out, err = await runledger(*mistake.args(tmp_path), env=mistake.env(dsn, tmp_path), timeout=60)
    assert code == mistake.code, (out, err)
    last = "\n".join(err.strip().splitlines()[-2:])
    assert all(word in last for word in mistake.says), err
    assert "Traceback" not in err and PASSWORD not in err + out


async def test_the_api_port_in_use_is_named_with_the_setting_to_change(dsn, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = await runledger("api", "--port", str(port), env=real_db(dsn, tmp_path), timeout=60)
    assert code == 1, (out, err)
    last = "\n".join(err.strip().splitlines()[-2:])
    assert str(port) in last and "in use" in last and "RUNLEDGER_API_PORT" in last, err
    assert "Traceback" not in err


async def test_debug_shows_the_traceback_and_still_hides_the_password(tmp_path):
    url = f"postgresql://runledger:{PASSWORD}@127.0.0.1:{free_port()}/runledger"
    code, _, err = await runledger("--debug", "migrate", env=dsn(url)("", tmp_path), timeout=60)
    assert code == 1 and "Traceback" in err and PASSWORD not in err
