"""The MLflow peer (runs in its own virtual environment; see bench.peer_protocol).

Tracking store: MLflow's SQLAlchemy store on Postgres, used in-process through ``MlflowClient``
(no tracking server, so no HTTP on MLflow's side). Its schema is created before the timed load.
Loading is what a training script logs: ``create_run`` (name, start time), one ``log_batch`` with
the run's parameters and final metrics, ``set_terminated``. MLflow has no steps and no lineage
graph, so the DAG and its artifacts are not loaded and the lineage questions get no answer.

Questions go through ``search_runs``: a filter string, ``order_by`` on the start time (newest
first) or on ``metrics.accuracy``, ``max_results``.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from bench.peer_protocol import serve

EXPERIMENT = "train-classifier"


class MlflowPeer:
    def __init__(self) -> None:
        self.client = None
        self.experiment = ""

    def prepare(self, *, config: dict) -> None:
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient(tracking_uri=config["uri"])
        found = self.client.get_experiment_by_name(EXPERIMENT)
        self.experiment = found.experiment_id if found else self.client.create_experiment(EXPERIMENT)

    def load(self, *, dataset: dict) -> None:
        from mlflow.entities import Metric, Param

        for run in dataset["runs"]:
            started, finished = int(run["created"] * 1000), int(run["finished"] * 1000)
            created = self.client.create_run(self.experiment, start_time=started, run_name=run["name"])
            run_id = created.info.run_id
            self.client.log_batch(
                run_id,
                metrics=[Metric(key, value, finished, 0) for key, value in run["metrics"].items()],
                params=[Param(key, value) for key, value in run["params"].items()],
            )
            self.client.set_terminated(run_id, "FINISHED", end_time=finished)

    def answerer(self, question: dict) -> Callable[[], list[str]] | None:
        if question["id"].startswith("lineage_"):
            return None
        order = ["metrics.accuracy DESC"] if question["id"] == "by_accuracy" else ["attributes.start_time DESC"]
        terms = []
        if "optimizer" in question:
            terms.append(f"params.optimizer = '{question['optimizer']}'")
        if "accuracy_above" in question:
            terms.append(f"metrics.accuracy > {question['accuracy_above']}")
        query = " and ".join(terms)

        def search() -> list[str]:
            found = self.client.search_runs([self.experiment], filter_string=query, max_results=question["limit"],
                                            order_by=order)  # fmt: skip
            return [r.info.run_name for r in found]

        return search


if __name__ == "__main__":
    serve(MlflowPeer)
