"""The composition root: the commands that run runledger's server side, wired from its parts.

Each module is one piece of the wiring: ``server_commands`` (run, api, migrate, import, openlineage
backfill), ``replaying`` (replay, and the replay source of run), ``cluster_agent`` (the watch while
leading), ``parts`` (the parts built from the settings, each handed only the groups it reads),
``api_server`` (the API server as a long-running part), ``database`` (find, migrate, pool),
``stopping`` (the stop signals), ``command_errors`` (what a command tells a person). Every long-running part is entered through the one lifecycle
(runledger.core.lifecycle) on an ``AsyncExitStack``, so parts stop in reverse order, and the owner
waits with ``lifecycle.first``: a part whose task dies stops the command loudly, at once. The
demo's own wiring (the bundled recording, its S3) is runledger.demo's.
"""

from runledger.service.cluster_agent import (
    run_cluster_agent,
    save_final_checkpoints,
    shard_lease_name,
)
from runledger.service.server_commands import (
    ImportRequest,
    run_api,
    run_import,
    run_lineage_backfill,
    run_main,
    run_migrate,
)
from runledger.service.command_errors import CommandError
from runledger.service.parts import (
    argo_node_status,
    build_app,
    build_indexer,
    build_ingestor,
)
from runledger.service.replaying import run_replay
from runledger.service.stopping import StopSignal

__all__ = [
    "CommandError",
    "ImportRequest",
    "StopSignal",
    "argo_node_status",
    "build_app",
    "build_indexer",
    "build_ingestor",
    "run_api",
    "run_cluster_agent",
    "run_import",
    "run_lineage_backfill",
    "run_main",
    "run_migrate",
    "run_replay",
    "save_final_checkpoints",
    "shard_lease_name",
]
