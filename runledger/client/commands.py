"""The query commands of ``runledger``: runs list/get, logs, lineage, artifacts list/get, compare, stats.

They read a runledger server over HTTP with the client of this folder, in the conventions of kubectl
and argo: ``-o table|wide|json|yaml``, ``-n NAMESPACE``, ``-w`` to follow changes. ``runledger.cli``
registers them with ``add_parsers`` and, because a query should start fast, hands them to ``main``
before anything of the service is imported. Errors print one or two lines and exit 2 for what the
user must change (arguments, settings, a token), 1 for what happened at run time (no server, no run).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from runledger.client import logs_command, views
from runledger.client.config import ConfigError, bearer_token, server_url
from runledger.client.errors import (
    BadRequest,
    RunledgerError,
    Unauthorized,
    Unreachable,
)
from runledger.client.output import terminal_width
from runledger.client.session import RunledgerClient
from runledger.client.views import UsageError

COMMANDS = ("runs", "logs", "lineage", "artifacts", "compare", "stats")
OUTPUTS = ("table", "wide", "json", "yaml")


def _common(*, output: bool = True) -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--server", help="the runledger API (RUNLEDGER_SERVER; default http://127.0.0.1:8080)")
    common.add_argument("--token", help="bearer token (RUNLEDGER_TOKEN; default: the current kubeconfig user's token)")
    if output:
        common.add_argument("-o", "--output", choices=OUTPUTS, default="table", help="output format (default table)")
    common.add_argument("--debug", action="store_true", help="show the traceback of an unexpected error")
    return common


def add_parsers(commands: argparse._SubParsersAction, *, only: str | None = None) -> None:
    """Add the query commands (or the one named ``only``) to a ``runledger`` parser's subcommands."""
    common = _common()
    if only in (None, "runs"):
        _add_runs(commands, common=common)
    if only in (None, "logs"):
        _add_logs(commands)
    if only in (None, "lineage"):
        _add_lineage(commands, common=common)
    if only in (None, "artifacts"):
        _add_artifacts(commands, common=common)
    if only in (None, "compare"):
        _add_compare(commands, common=common)
    if only in (None, "stats"):
        _add_stats(commands, common=common)


def _add_runs(commands: argparse._SubParsersAction, *, common: argparse.ArgumentParser) -> None:
    """runs list and runs get."""
    runs = commands.add_parser("runs", help="list runs, or show one with its steps").add_subparsers(
        dest="action", required=True)  # fmt: skip
    listing = runs.add_parser("list", parents=[common], help="runs, newest first, filtered as the API filters",
                              description="Runs, filtered and sorted as GET /api/v1/runs does.")  # fmt: skip
    listing.add_argument("-n", "--namespace")
    listing.add_argument("--phase", help="Pending, Running, Succeeded, Failed, Error, in any case; several comma-separated")
    listing.add_argument("--pipeline", help="KFP pipeline name")
    listing.add_argument("-l", "--label", action="append", default=[], metavar="KEY[=VALUE]|!KEY")
    listing.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="run argument equals (VALUE* : starts with)")
    listing.add_argument("--metric", action="append", default=[], metavar="'NAME>=X'",
                         help="metric comparison: = != < <= > >=")  # fmt: skip
    listing.add_argument("--sort", help="created_at, finished_at, duration, name or metric.NAME; - for descending")
    listing.add_argument("--limit", type=int, default=50, help="most runs to show (default 50; 0: all)")
    listing.add_argument("-w", "--watch", action="store_true", help="after the list, print runs as their phase changes")
    listing.set_defaults(handler=views.list_runs)
    get = runs.add_parser("get", parents=[common], help="a run and its steps as a tree")
    get.add_argument("run", metavar="RUN", help="run id, KFP run id, or NAMESPACE/NAME")
    get.set_defaults(handler=views.get_run)


def _add_logs(commands: argparse._SubParsersAction) -> None:
    """logs RUN [STEP]."""
    logs = commands.add_parser(
        "logs", parents=[_common(output=False)], help="a step's archived log, or every step's in order",
        description="The logs Argo archived (archiveLogs) of a run's steps, as the server streams them from S3.",
    )  # fmt: skip
    logs.add_argument("run", metavar="RUN", help="run id, KFP run id, or NAMESPACE/NAME")
    logs.add_argument("step", metavar="STEP", nargs="?",
                      help="step id, display name or template (default: every step, each under a header line)")  # fmt: skip
    logs.add_argument("-f", "--follow", action="store_true",
                      help="keep printing the steps' logs as they are archived, until the run finishes")  # fmt: skip
    logs.set_defaults(handler=logs_command.logs)


def _add_lineage(commands: argparse._SubParsersAction, *, common: argparse.ArgumentParser) -> None:
    """lineage NODE."""
    lineage = commands.add_parser("lineage", parents=[common], help="what a run, step or artifact came from and fed")
    lineage.add_argument("node", metavar="NODE",
                         help="a run (id, KFP run id, NAMESPACE/NAME), run:ID, step:RUN/NODE or artifact:ID|s3://…")  # fmt: skip
    lineage.add_argument("--direction", choices=("upstream", "downstream", "both"), default="both")
    lineage.add_argument("--depth", type=int)
    lineage.add_argument("--limit", type=int, help="most nodes in the graph")
    lineage.set_defaults(handler=views.lineage)


def _add_artifacts(commands: argparse._SubParsersAction, *, common: argparse.ArgumentParser) -> None:
    """artifacts list and artifacts get."""
    artifacts = commands.add_parser("artifacts", help="indexed S3 artifacts").add_subparsers(dest="action", required=True)
    alist = artifacts.add_parser("list", parents=[common], help="artifacts, filtered")
    alist.add_argument("--uri-prefix", help="e.g. s3://mlpipeline/")
    alist.add_argument("--run", help="produced or consumed by this run (id, KFP run id, NAMESPACE/NAME)")
    alist.add_argument("--step", help="... by this step (node id) of --run")
    alist.add_argument("--name", help="named so in a step's inputs or outputs")
    alist.add_argument("--direction", choices=("input", "output"))
    alist.add_argument("--state", choices=("pending", "indexed", "missing", "forbidden", "failed"))
    alist.add_argument("--limit", type=int, default=50, help="most artifacts to show (default 50; 0: all)")
    alist.set_defaults(handler=views.list_artifacts)
    aget = artifacts.add_parser("get", parents=[common], help="an artifact: producers, consumers, metrics")
    aget.add_argument("ref", metavar="ARTIFACT", help="numeric id or s3://bucket/key")
    aget.set_defaults(handler=views.get_artifact)


def _add_compare(commands: argparse._SubParsersAction, *, common: argparse.ArgumentParser) -> None:
    """compare RUN..."""
    compare = commands.add_parser("compare", parents=[common], help="runs side by side: parameters and metrics")
    compare.add_argument("runs", nargs="+", metavar="RUN", help="run id, KFP run id, or NAMESPACE/NAME")
    compare.set_defaults(handler=views.compare)


def _add_stats(commands: argparse._SubParsersAction, *, common: argparse.ArgumentParser) -> None:
    """stats [PIPELINE]."""
    stats = commands.add_parser(
        "stats", parents=[common], help="what fails, what waits, what costs: per pipeline, or per template of one",
        description="Pipeline analytics as GET /api/v1/stats/pipelines (and .../PIPELINE/templates) answers them.",
    )  # fmt: skip
    stats.add_argument("pipeline", metavar="PIPELINE", nargs="?", help="show this pipeline's templates")
    stats.add_argument("-n", "--namespace", help="namespaces to count, comma-separated (default: all you may read)")
    stats.add_argument("--since", help="runs created from then: RFC 3339, or an age such as 24h or 30d (default 7d)")
    stats.add_argument("--until", help="runs created before then, as --since (default now)")
    stats.set_defaults(handler=views.stats)


def main(argv: list[str]) -> int:
    """Run one query command (``argv`` starts with its name)."""
    parser = argparse.ArgumentParser(prog="runledger")
    # Only the command's own parser: argparse works through every argument added, and a query command
    # should not pay for the others'.
    add_parsers(parser.add_subparsers(dest="command", required=True), only=argv[0] if argv else None)
    return run(parser.parse_args(argv))


def run(args: argparse.Namespace) -> int:
    try:
        server = server_url(args.server, env=os.environ)
        token = bearer_token(args.token, server=server, env=os.environ)
        return _run(args.handler, args, server=server, token=token)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`runledger runs list | head`): nothing to say. stdout goes to /dev/null so
        # that the interpreter's own flush at exit does not complain either; 141 is how a shell reports a
        # process that SIGPIPE ended.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (ConfigError, UsageError) as exc:
        return _fail(str(exc), code=2)
    except BadRequest as exc:
        return _fail(f"the server refused the request: {exc}", "check the flags against `runledger <command> --help`", code=2)
    except Unauthorized as exc:
        return _fail(f"the server wants a bearer token it accepts ({exc})", "pass --token or set RUNLEDGER_TOKEN", code=2)
    except Unreachable as exc:
        return _fail(str(exc), "start one with `runledger run`, or point --server / RUNLEDGER_SERVER at it", code=1)
    except RunledgerError as exc:
        return _fail(str(exc), code=1)
    except Exception as exc:
        if args.debug:
            import traceback

            traceback.print_exc()
        return _fail(f"unexpected error: {type(exc).__name__}: {exc}", "run again with --debug for the traceback", code=1)


def _run(handler: Callable[..., None], args: argparse.Namespace, *, server: str, token: str | None) -> int:
    tty = sys.stdout.isatty()
    out = views.Printer(output=getattr(args, "output", "table"), colour=tty and "NO_COLOR" not in os.environ,
                        width=terminal_width(tty=tty, env=os.environ))  # fmt: skip
    with RunledgerClient(server, token=token) as client:
        handler(client, args, out)
    return 0


def _fail(*lines: str, code: int) -> int:
    print(f"runledger: {lines[0]}", file=sys.stderr)
    for line in lines[1:]:
        print(f"  {line}", file=sys.stderr)
    return code

