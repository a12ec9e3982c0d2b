"""`runledger logs RUN [STEP]` as a user runs it: a `runledger api` process reading logs from moto's S3,
the command a process of its own, its output read as the user reads it."""

from __future__ import annotations

import pytest

from runledger.store import connection as db
from tests.support.ingesting import ingest
from tests.support.logs import api_serving_logs, logging_workflow
from tests.support.postgres import create_database
from tests.support.processes import runledger
from tests.support.s3 import S3Objects, s3_settings

pytestmark = pytest.mark.timeout(120)
TRAIN = b"".join(b"train line %04d\n" % i for i in range(300))  # 4,800 bytes: five answers at the cap below
EVAL = b"eval: accuracy 0.93"  # no final newline
CAP = 1000


@pytest.fixture(scope="module")
async def server(pg_server_uri, template_database, moto_server, tmp_path_factory):
    dsn = await create_database(pg_server_uri, template=template_database)
    async with S3Objects(moto_server.url) as objects:
        await objects.put("my-bucket", "logs/train/main.log", TRAIN)
        await objects.put("my-bucket", "logs/eval/main.log", EVAL)
    settings = s3_settings(moto_server, tmp_path_factory.mktemp("logs"))
    pool = await db.create_pool(dsn, database=settings.database)
    try:
        await ingest(pool, settings, [logging_workflow("wf", {"wf-train": "logs/train/main.log",
                                                              "wf-eval": "logs/eval/main.log"})])  # fmt: skip
    finally:
        await pool.close()
    async with api_serving_logs(dsn=dsn, s3_url=moto_server.url, log_max_bytes=CAP) as url:
        yield url


async def logs(server: str, *args: str) -> tuple[int, str, str]:
    return await runledger("logs", *args, env={"RUNLEDGER_SERVER": server, "KUBECONFIG": "/nonexistent"})


async def test_a_step_named_by_id_display_name_or_template_prints_its_whole_log_past_the_servers_cap(server):
    for run in ("uid-wf", "ml/wf", "kfp-wf"):
        code, out, err = await logs(server, run, "wf-train")
        assert (code, err) == (0, "") and out.encode() == TRAIN
    code, out, err = await logs(server, "ml/wf", "eval")
    assert (code, err) == (0, "") and out.encode() == EVAL


async def test_without_a_step_every_steps_log_is_printed_in_order_under_a_header_line(server):
    code, out, err = await logs(server, "ml/wf")
    assert code == 0
    # The builder starts every step at the same time: the order is then the steps' ids.
    assert out.encode() == (b"==> eval (wf-eval) <==\n" + EVAL + b"\n==> nolog (wf-nolog) <==\n"
                            + b"==> train (wf-train) <==\n" + TRAIN)  # fmt: skip
    assert err == "runledger: step wf-nolog has no archived log (Argo's archiveLogs was off)\n"


async def test_a_template_several_steps_share_prints_each_under_its_header(server):
    code, out, err = await logs(server, "ml/wf", "t")
    assert code == 0 and out.startswith("==> eval (wf-eval) <==\n") and "==> train (wf-train) <==\n" in out


async def test_mistakes_end_in_one_or_two_lines_and_the_exit_code_of_their_kind(server):
    code, out, err = await logs(server, "ml/nope")
    assert (code, out) == (1, "") and err == "runledger: no run named 'nope' in namespace 'ml'\n"
    code, out, err = await logs(server, "ml/wf", "deploy")
    assert (code, out) == (1, "") and err.startswith("runledger: no step 'deploy' in run ml/wf: give a step id")
    code, out, err = await logs(server, "ml/wf", "nolog")
    assert (code, out) == (1, "") and err == "runledger: step wf-nolog has no archived log (Argo's archiveLogs was off)\n"
    code, out, err = await logs(server, "ml/wf", "train", "extra")
    assert code == 2 and "unrecognized arguments: extra" in err and len(err.splitlines()) == 2
