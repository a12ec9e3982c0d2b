"""The ML Metadata peer (runs in its own virtual environment; see bench.peer_protocol).

Loading follows KFP v2's launcher: a run is a ``system.PipelineRun`` context; each step is one
``system.ContainerExecution`` written by ``put_execution`` with its input and output artifacts,
their events, and the attribution/association to the run's context, in one call, as the launcher
publishes a finished step. The run's parameters and final metrics are also custom properties of its
context (the most favourable layout for these questions: filters need no join), and the metrics
file is a ``system.Metrics`` artifact holding them too.

Questions: run listings through ``get_contexts`` with a filter query, newest first by id (contexts
are created in run order); MLMD cannot order by a property, so "by accuracy" reads every run with
an accuracy and sorts in Python, as a client of MLMD must. Lineage: ``get_lineage_subgraph``
upstream from the artifact with that URI, ``max_num_hops`` hops.
"""

from __future__ import annotations

from collections.abc import Callable

from bench.peer_protocol import serve

RUN, STEP = "system.PipelineRun", "system.ContainerExecution"
ARTIFACT_TYPES = {"dataset": "system.Dataset", "raw": "system.Dataset", "features": "system.Dataset",
                  "model": "system.Model", "warm-start": "system.Model", "mlpipeline-metrics": "system.Metrics"}  # fmt: skip


class MlmdPeer:
    def __init__(self) -> None:
        self.store = None
        self.types: dict[str, int] = {}

    def prepare(self, *, config: dict) -> None:
        from ml_metadata import metadata_store
        from ml_metadata.proto import metadata_store_pb2 as pb

        connection = pb.ConnectionConfig()
        if config["kind"] == "sqlite":
            connection.sqlite.filename_uri = config["path"]
            connection.sqlite.connection_mode = pb.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
        else:
            pg = connection.postgresql
            pg.host, pg.port, pg.user, pg.dbname = config["host"], str(config["port"]), config["user"], config["dbname"]
            if config.get("password"):
                pg.password = config["password"]
            pg.skip_db_creation = True
        self.store = metadata_store.MetadataStore(connection)
        self._put_types()

    def _put_types(self) -> None:
        from ml_metadata.proto import metadata_store_pb2 as pb

        self.types[RUN] = self.store.put_context_type(pb.ContextType(name=RUN))
        self.types[STEP] = self.store.put_execution_type(pb.ExecutionType(name=STEP))
        for name in sorted(set(ARTIFACT_TYPES.values())):
            self.types[name] = self.store.put_artifact_type(pb.ArtifactType(name=name))

    def load(self, *, dataset: dict) -> None:
        from ml_metadata.proto import metadata_store_pb2 as pb

        # put_execution writes every artifact it is given: an input must go in whole, not as a bare id.
        stored: dict[str, object] = {}  # artifact URI -> its Artifact, id set
        for uri in dataset["datasets"]:
            artifact = _artifact(pb, self.types["system.Dataset"], uri)
            [artifact.id] = self.store.put_artifacts([artifact])
            stored[uri] = artifact
        for run in dataset["runs"]:
            context = pb.Context(type_id=self.types[RUN], name=run["name"])
            for key, value in run["params"].items():
                context.custom_properties[key].string_value = value
            for key, value in run["metrics"].items():
                context.custom_properties[key].double_value = value
            [context_id] = self.store.put_contexts([context])
            context.id = context_id
            for step in run["steps"]:
                execution = pb.Execution(type_id=self.types[STEP], name=f"{run['name']}/{step['name']}",
                                         last_known_state=pb.Execution.COMPLETE)  # fmt: skip
                pairs = []
                for name, uri in step["inputs"]:
                    event = pb.Event(type=pb.Event.INPUT)
                    event.path.steps.add().key = name
                    pairs.append((stored[uri], event))
                outputs = []
                for name, uri in step["outputs"]:
                    artifact = _artifact(pb, self.types[ARTIFACT_TYPES[name]], uri)
                    if name == "mlpipeline-metrics":
                        for key, value in run["metrics"].items():
                            artifact.custom_properties[key].double_value = value
                    event = pb.Event(type=pb.Event.OUTPUT)
                    event.path.steps.add().key = name
                    pairs.append((artifact, event))
                    outputs.append(artifact)
                _, artifact_ids, _ = self.store.put_execution(execution, pairs, [context])
                for artifact, artifact_id in zip(outputs, artifact_ids[len(step["inputs"]) :]):
                    artifact.id = artifact_id
                    stored[artifact.uri] = artifact

    def answerer(self, question: dict) -> Callable[[], list[str]] | None:
        import ml_metadata as mlmd

        limit = question["limit"]
        runs = f"type = '{RUN}'"
        if question["id"].startswith("lineage_"):
            return lambda: self._lineage(question["uri"], question["hops"])
        if question["id"] == "by_accuracy":

            def by_accuracy() -> list[str]:
                found = self.store.get_contexts(list_options=mlmd.ListOptions(
                    filter_query=f"{runs} AND custom_properties.accuracy.double_value > -1"))  # fmt: skip
                found.sort(key=lambda c: -c.custom_properties["accuracy"].double_value)
                return [c.name for c in found[:limit]]

            return by_accuracy
        query = runs
        if "optimizer" in question:
            query += f" AND custom_properties.optimizer.string_value = '{question['optimizer']}'"
        if "accuracy_above" in question:
            query += f" AND custom_properties.accuracy.double_value > {question['accuracy_above']}"
        options = mlmd.ListOptions(limit=limit, order_by=mlmd.OrderByField.ID, is_asc=False, filter_query=query)
        return lambda: [c.name for c in self.store.get_contexts(list_options=options)]

    def _lineage(self, uri: str, hops: int) -> list[str]:
        from ml_metadata.proto import metadata_store_pb2 as pb

        options = pb.LineageSubgraphQueryOptions(max_num_hops=hops, direction=pb.LineageSubgraphQueryOptions.UPSTREAM)
        options.starting_artifacts.filter_query = f"uri = '{uri}'"
        graph = self.store.get_lineage_subgraph(options)
        return [a.uri for a in graph.artifacts] + [e.name for e in graph.executions]


def _artifact(pb, type_id: int, uri: str):
    return pb.Artifact(type_id=type_id, uri=uri, state=pb.Artifact.LIVE)


if __name__ == "__main__":
    serve(MlmdPeer)
