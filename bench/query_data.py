"""Synthetic run history for the query benchmark, as text COPY streams, one chunk of runs at a time.

Why not the demo generator and the writer: they produce the right rows at a few thousand runs a
second, and the query benchmark needs a million runs (some 130 million rows). So this module writes
the rows themselves, shaped as the writer would persist them (runledger/store/writer.py and
sql/queries/write.sql): the same fingerprints (``writer.fingerprint`` over the same columns), node
ids and pod names in Argo's scheme, run arguments both as the ``parameters`` document and as
``step_id = ''`` rows, artifact references linked to their ``artifacts`` row by ``artifact_id``,
``metrics`` per (run, step) from the metrics file a step produced and ``run_metrics`` holding the
value of the step that finished last, a transition per phase change. Generated columns (sort_at,
finished_sort, duration_sort, duration_seconds) are left to Postgres; a run argument's copy of its
run's sort_at (``run_sort_at``, which a trigger fills for any other writer) is written here, and the
loader checks every copy against its run.

Everything about run ``i`` is a pure function of ``i`` (and the total), so chunks are generated in
any order by worker processes, and a run can refer to what another run produced without either
seeing the other:

* run ``i`` of ``total`` is created 30 s after run ``i - 1``; the newest ``total / 2000`` are still
  Running or Pending, the rest Succeeded (~85 %), Failed or Error (the failed task's dependents are
  Omitted), ~5 % of finished runs garbage-collected (``deleted_at``);
* one DAG of ``steps_per_run`` nodes: a root DAG node, a chain of Pod tasks, the training task
  wrapped in a Retry node; a task's output artifact is the next task's input (same S3 key, one
  ``artifacts`` row), as are output parameters (lineage's inferred parameter edges);
* cross-run lineage: the first task reads one of 500 shared dataset versions (hot artifacts read by
  thousands of runs), and the deploy task reads the model the previous run of its pipeline deployed
  (champion/challenger), so every pipeline's runs form one long chain: ten hops upstream from a
  deploy step cross five runs. A champion that was never produced (its run failed) is an artifact
  whose HEAD found nothing (``missing``), as the indexer would record it;
* KFP metrics files from the train and evaluate tasks (accuracy, loss, auc), indexed.

Rows are tab-separated text with ``\\N`` for NULL; no generated value holds a tab, newline or
backslash, so nothing needs escaping.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property

import orjson

from runledger.store.writer import fingerprint

END = datetime(2025, 6, 1, tzinfo=timezone.utc)
INTERVAL_SECONDS = 30
PIPELINES = ("xgboost-training", "churn-model", "etl-daily", "bert-finetune", "fraud-detection", "recsys-ranking")
# Namespaces by share of runs: a few busy teams, a long tail.
NAMESPACES = (
    ("team-a", 0.30), ("team-b", 0.20), ("team-c", 0.15), ("team-d", 0.10), ("team-e", 0.10),
    ("team-f", 0.08), ("ml-platform", 0.06), ("sandbox", 0.01),
)  # fmt: skip
LEARNING_RATES = ("0.1", "0.01", "0.001", "0.05", "0.005")
EPOCHS = ("5", "10", "20", "50")
DATASETS = ("customers", "transactions", "clickstream", "newsgroups", "churn-events")
BATCH_SIZES = ("32", "64", "128", "256")
EXPERIMENTS = 5000  # run argument `experiment`: ~200 runs each at 1M runs, spread over the whole history
DATASET_VERSIONS = 500  # shared input artifacts, ids 1..500
TASK_NAMES = (
    "fetch-data", "validate-schema", "clean", "deduplicate", "featurize", "split", "train", "tune",
    "evaluate", "explain", "bias-check", "calibrate", "package", "push-image", "register-model", "canary",
    "promote", "deploy",
)  # fmt: skip
TRAIN, EVALUATE = TASK_NAMES.index("train"), TASK_NAMES.index("evaluate")
BUCKET = "mlpipeline"
ENDPOINT = "minio-service.kubeflow:9000"
N = "\\N"
_MASK = (1 << 64) - 1


def _mix(x: int) -> int:
    """splitmix64's finalizer: a well-spread 64-bit hash of an integer."""
    x &= _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def _h(i: int, salt: int) -> int:
    return _mix(i * 0x9E3779B97F4A7C15 + salt)


def _u(i: int, salt: int) -> float:
    return _h(i, salt) / 2.0**64


def _uuid(i: int, salt: int) -> str:
    a, b = _h(i, salt), _h(i, salt + 1)
    return f"{a >> 32:08x}-{(a >> 16) & 0xFFFF:04x}-4{a & 0xFFF:03x}-{0x8000 | (b >> 48) & 0x3FFF:04x}-{b & 0xFFFFFFFFFFFF:012x}"


_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def _suffix(i: int) -> str:
    x = _h(i, 7)
    return "".join(_ALPHABET[(x >> (5 * k)) % 27] for k in range(5))


@dataclass(frozen=True)
class Shape:
    """What every run of one dataset looks like; fixed for the whole load."""

    total: int
    steps_per_run: int

    @cached_property
    def tasks(self) -> tuple[str, ...]:
        count = max(3, self.steps_per_run - 2)  # a root DAG node and the Retry node are steps too
        names = [TASK_NAMES[k % len(TASK_NAMES)] + (f"-{k // len(TASK_NAMES)}" if k >= len(TASK_NAMES) else "")
                 for k in range(count - 1)]  # fmt: skip
        return (*names, "deploy")

    @cached_property
    def slots(self) -> int:
        """Artifact ids reserved per run: one output per task, and two metrics files."""
        return len(self.tasks) + 2

    @cached_property
    def running_tail(self) -> int:
        return max(5, self.total // 2000)

    def artifact_id(self, run: int, slot: int) -> int:
        return DATASET_VERSIONS + run * self.slots + slot + 1

    def run_id(self, i: int) -> str:
        return _uuid(i, 1)

    def pipeline(self, i: int) -> str:
        return PIPELINES[i % len(PIPELINES)]

    def name(self, i: int) -> str:
        return f"{self.pipeline(i)}-{_suffix(i)}"

    def plan(self, i: int) -> tuple[str, int]:
        """(run phase, the task it stopped at: failed, or running; len(tasks) when it ran through)."""
        tasks = len(self.tasks)
        if i >= self.total - self.running_tail:
            return ("Pending", -1) if _u(i, 2) < 0.2 else ("Running", _h(i, 4) % tasks)
        u = _u(i, 2)
        if u < 0.85:
            return "Succeeded", tasks
        return ("Failed" if u < 0.985 else "Error"), _h(i, 3) % tasks

    def ran(self, i: int, task: int) -> bool:
        """Task `task` of run `i` started (so its inputs are recorded)."""
        phase, stop = self.plan(i)
        return phase != "Pending" and task <= stop

    def succeeded(self, i: int, task: int) -> bool:
        phase, stop = self.plan(i)
        return phase != "Pending" and task < stop

    def champion_of(self, i: int) -> int | None:
        """The run whose deployed model run i's deploy task reads: its pipeline's previous run."""
        previous = i - len(PIPELINES)
        return previous if previous >= 0 else None

    def output_artifact(self, task: int) -> str | None:
        if task == len(self.tasks) - 1:
            return "model"
        return "data" if task % 2 == 0 else None


def _ts(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).isoformat()


def _namespace(i: int) -> str:
    u = _u(i, 5)
    for namespace, share in NAMESPACES:
        if u < share:
            return namespace
        u -= share
    return NAMESPACES[0][0]


class Chunk:
    """The rows of runs [start, stop), per table, as COPY text."""

    COLUMNS = {
        "runs": ("id", "namespace", "name", "uid", "kfp_run_id", "pipeline_name", "scheduled_workflow", "phase",
                 "message", "created_at", "started_at", "finished_at", "labels", "parameters", "step_counts",
                 "nodes_offloaded", "deleted_at", "resource_version", "fp", "first_seen_at", "updated_at"),
        "steps": ("run_id", "id", "name", "display_name", "type", "template", "phase", "boundary_id", "pod_name",
                  "started_at", "finished_at", "exit_code", "message", "host_node", "fp"),
        "step_edges": ("run_id", "parent_id", "child_id"),
        "parameters": ("run_id", "step_id", "direction", "name", "value", "truncated", "fp", "run_sort_at"),
        "artifacts": ("id", "uri", "bucket", "key", "endpoint", "region", "insecure", "state", "size", "etag",
                      "content_type", "last_modified", "errors", "error", "checked_at", "first_seen_at"),
        "artifact_queue": ("artifact_id", "due_at"),
        "artifact_refs": ("run_id", "step_id", "direction", "name", "path", "storage", "s3_bucket", "s3_key",
                          "s3_endpoint", "s3_region", "s3_insecure", "location_source", "archive", "optional",
                          "uri", "fp", "artifact_id"),
        "artifact_metrics": ("artifact_id", "name", "value", "format"),
        "metrics": ("run_id", "step_id", "name", "value", "format", "artifact_id"),
        "run_metrics": ("run_id", "name", "value", "step_id"),
        "transitions": ("id", "run_id", "step_id", "from_phase", "to_phase", "at", "observed_at"),
    }  # fmt: skip

    def __init__(self, shape: Shape) -> None:
        self.shape = shape
        self.rows: dict[str, list[str]] = {table: [] for table in self.COLUMNS}
        self._param_fps: dict[str, int] = {}

    def encoded(self) -> dict[str, bytes]:
        return {t: ("\n".join(rows) + "\n").encode() for t, rows in self.rows.items() if rows}

    def _add(self, table: str, *values: object) -> None:
        self.rows[table].append("\t".join([N if v is None else str(v) for v in values]))

    def _param(self, run_id: str, step_id: str, direction: str, name: str, value: str, run_sort_at: str | None = None) -> None:
        fp = self._param_fps.get(value)
        if fp is None:
            fp = fingerprint(value, False)
            if len(self._param_fps) < 10_000:
                self._param_fps[value] = fp
        self._add("parameters", run_id, step_id, direction, name, value, "f", fp, run_sort_at)

    def _artifact_row(self, artifact_id: int, key: str, *, state: str, at: float | None, size: int) -> None:
        uri = f"s3://{BUCKET}/{key}"
        if state == "indexed":
            self._add("artifacts", artifact_id, uri, BUCKET, key, ENDPOINT, None, "t", state, size,
                      f"{_h(artifact_id, 9):016x}{_h(artifact_id, 10):016x}", "application/gzip", _ts(at),
                      "[]", None, _ts(at + 5), _ts(at))  # fmt: skip
        elif state == "missing":
            self._add("artifacts", artifact_id, uri, BUCKET, key, ENDPOINT, None, "t", state, None, None, None,
                      None, "[]", "the object does not exist (404)", _ts(at + 5), _ts(at))  # fmt: skip
        else:
            self._add("artifacts", artifact_id, uri, BUCKET, key, ENDPOINT, None, "t", "pending", None, None,
                      None, None, "[]", None, None, _ts(at))  # fmt: skip
            self._add("artifact_queue", artifact_id, _ts(at))

    def _ref(self, run_id: str, step_id: str, direction: str, name: str, key: str, artifact_id: int) -> None:
        path = f"/tmp/outputs/{name}/data"
        uri = f"s3://{BUCKET}/{key}"
        row = (path, "s3", BUCKET, key, ENDPOINT, None, True, "workflow-repository", None, False, uri)
        fp = fingerprint(*row)
        self._add("artifact_refs", run_id, step_id, direction, name, path, "s3", BUCKET, key, ENDPOINT, None, "t",
                  "workflow-repository", None, "f", uri, fp, artifact_id)  # fmt: skip

    def datasets(self) -> None:
        """The shared dataset versions every run's first task reads (produced outside any pipeline)."""
        start = END.timestamp() - self.shape.total * INTERVAL_SECONDS - 86400
        for v in range(DATASET_VERSIONS):
            key = f"datasets/{DATASETS[v % len(DATASETS)]}/v{v // len(DATASETS)}/data.csv"
            self._artifact_row(v + 1, key, state="indexed", at=start, size=1_000_000 + v)

    def add_runs(self, start: int, stop: int) -> None:
        for i in range(start, stop):
            self._run(i)

    def _run(self, i: int) -> None:
        shape = self.shape
        tasks = shape.tasks
        rid, wf, pipeline = shape.run_id(i), shape.name(i), shape.pipeline(i)
        phase, stop = shape.plan(i)
        namespace = _namespace(i)
        created = END.timestamp() - (shape.total - i) * INTERVAL_SECONDS + _h(i, 6) % 20
        started = created + 2 + _h(i, 8) % 8 if phase != "Pending" else None
        kfp = _u(i, 11) < 0.8
        kfp_run_id = _uuid(i, 12) if kfp else None
        scheduled = f"{pipeline}-nightly-{_h(i, 13) % 8}" if _u(i, 14) < 0.3 else None
        args = {
            "lr": LEARNING_RATES[_h(i, 15) % len(LEARNING_RATES)],
            "epochs": EPOCHS[_h(i, 16) % len(EPOCHS)],
            "dataset": DATASETS[_h(i, 17) % len(DATASETS)],
            "batch_size": BATCH_SIZES[_h(i, 18) % len(BATCH_SIZES)],
            "experiment": f"exp-{_h(i, 19) % EXPERIMENTS}",
        }
        labels = {"workflows.argoproj.io/phase": phase, "team": namespace}
        if kfp:
            labels["pipeline/runid"] = kfp_run_id
            labels["pipelines.kubeflow.org/kfp_sdk_version"] = "1.8.22"
        if scheduled:
            labels["scheduledworkflows.kubeflow.org/scheduledWorkflowName"] = scheduled
        if phase not in ("Running", "Pending"):
            labels["workflows.argoproj.io/completed"] = "true"

        # Steps: the root DAG node, then the tasks in a chain, one of them wrapped in a Retry node.
        steps: list[tuple] = []  # (id, name, display, type, template, phase, boundary, pod, started, finished, exit, message)
        edges: list[tuple[str, str]] = []
        task_ids: list[str] = []
        t = started
        last_finished = None
        previous_id = wf
        accuracy = round(0.6 + 0.39 * _u(i, 20), 4)
        for k, task in enumerate(tasks):
            if phase == "Pending" or k > stop or (phase == "Running" and k > stop):
                break
            number = _h(i, 100 + k) & 0xFFFFFFFF
            node_id = f"{wf}-{number}"
            duration = 5 + _h(i, 200 + k) % 295
            if k < stop:
                step_phase, s_start, s_end, exit_code, message = "Succeeded", t, t + duration, 0, None
            elif phase == "Running":
                step_phase, s_start, s_end, exit_code, message = "Running", t, None, None, None
            else:
                step_phase, s_start, s_end, exit_code, message = phase, t, t + duration, 1, "Error (exit code 1)"
            display = task
            name = f"{wf}.{task}"
            if k == TRAIN:
                retry_id = f"{wf}-{_h(i, 99) & 0xFFFFFFFF}"
                steps.append((retry_id, name, task, "Retry", task, step_phase, wf, None, s_start, s_end, None, message))
                edges.append((previous_id, retry_id))
                previous_id = retry_id
                name, display = f"{name}(0)", f"{task}(0)"
            steps.append((node_id, name, display, "Pod", task, step_phase, wf, f"{wf}-{task}-{number}", s_start, s_end,
                          exit_code, message))  # fmt: skip
            edges.append((previous_id, node_id))
            task_ids.append(node_id)
            previous_id = node_id
            if s_end is not None:
                t = s_end + 1
                last_finished = s_end
        omitted_at = None
        if phase in ("Failed", "Error"):
            finished = (last_finished or started) + 2
            run_message = f"child '{task_ids[-1]}' failed"
            for k in range(stop + 1, len(tasks)):
                node_id = f"{wf}-{_h(i, 100 + k) & 0xFFFFFFFF}"
                steps.append((node_id, f"{wf}.{tasks[k]}", tasks[k], "Pod", tasks[k], "Omitted", wf, None, None, None,
                              None, "omitted: depends condition not met"))  # fmt: skip
                edges.append((previous_id, node_id))
                previous_id = node_id
            omitted_at = finished
        elif phase == "Succeeded":
            finished, run_message = (last_finished or started) + 2, None
        else:
            finished, run_message = None, None
        if phase != "Pending":
            steps.insert(0, (wf, wf, wf, "DAG", pipeline, phase, None, None, started, finished, None, run_message))

        counts: dict[str, int] = {}
        for s in steps:
            counts[s[5]] = counts.get(s[5], 0) + 1
        deleted_at = finished + 86400 if finished is not None and _u(i, 21) < 0.05 else None

        c_ts, s_ts, f_ts = _ts(created), (_ts(started) if started else None), (_ts(finished) if finished else None)
        labels_doc = orjson.dumps(labels, option=orjson.OPT_SORT_KEYS).decode()
        params_doc = orjson.dumps(args, option=orjson.OPT_SORT_KEYS).decode()
        counts_doc = orjson.dumps(counts, option=orjson.OPT_SORT_KEYS).decode()
        run_row = (rid, namespace, wf, rid, kfp_run_id, pipeline, scheduled, phase, run_message, c_ts, s_ts, f_ts,
                   labels_doc, params_doc, counts_doc, False)  # fmt: skip
        fp = fingerprint(*run_row, deleted_at is not None)
        updated = (finished or started or created) + 2
        self._add("runs", *run_row[:12], labels_doc, params_doc, counts_doc, "f",
                  _ts(deleted_at) if deleted_at else None, str(1_000_000 + i * 7), fp, _ts(created + 1), _ts(updated))  # fmt: skip

        tid = i * (3 * shape.steps_per_run + 64)  # room for every transition of the run
        self._add("transitions", tid, rid, "", None, "Pending" if phase == "Pending" else "Running",
                  c_ts if phase == "Pending" else s_ts, _ts((created if phase == "Pending" else started) + 1))  # fmt: skip
        tid += 1
        if finished is not None:
            self._add("transitions", tid, rid, "", "Running", phase, f_ts, _ts(finished + 1))
            tid += 1
        for sid, name, display, typ, template, s_phase, boundary, pod, s_start, s_end, exit_code, message in steps:
            st, en = (_ts(s_start) if s_start else None), (_ts(s_end) if s_end else None)
            host = f"gke-pool-{_h(i, 300) % 64}" if typ == "Pod" and st else None
            step_fp = fingerprint(name, display, typ, template, s_phase, boundary, pod, st, en, exit_code, message, host)
            self._add("steps", rid, sid, name, display, typ, template, s_phase, boundary, pod, st, en, exit_code,
                      message, host, step_fp)  # fmt: skip
            if s_phase == "Omitted":
                self._add("transitions", tid, rid, sid, None, "Omitted", _ts(omitted_at), _ts(omitted_at + 1))
                tid += 1
                continue
            self._add("transitions", tid, rid, sid, None, "Running", st, _ts(s_start + 1))
            tid += 1
            if en is not None:
                self._add("transitions", tid, rid, sid, "Running", s_phase, en, _ts(s_end + 1))
                tid += 1
        for parent, child in edges:
            self._add("step_edges", rid, parent, child)

        for name, value in args.items():
            self._param(rid, "", "argument", name, value, c_ts)  # the run's sort_at: it has a created_at

        # Inputs and outputs of the tasks that ran (only succeeded tasks have outputs).
        task_times = {s[0]: (s[8], s[9]) for s in steps}
        for k, node_id in enumerate(task_ids):
            s_start, s_end = task_times[node_id]
            done = shape.succeeded(i, k)
            pod = f"{wf}-{tasks[k]}-{node_id.rsplit('-', 1)[1]}"
            if k == 0:
                version = _h(i, 22) % DATASET_VERSIONS
                key = f"datasets/{DATASETS[version % len(DATASETS)]}/v{version // len(DATASETS)}/data.csv"
                self._ref(rid, node_id, "input", "dataset", key, version + 1)
            else:
                self._param(rid, node_id, "input", "lr", args["lr"])
            if k > 0 and k % 2 == 0:
                value = f"{wf}-{k - 1:02d}-{_h(i, 400 + k) & 0xFFFFFF:06x}"
                self._param(rid, node_id, "input", "upstream-result", value)
            if done and k % 2 == 1:
                value = f"{wf}-{k:02d}-{_h(i, 401 + k) & 0xFFFFFF:06x}"
                self._param(rid, node_id, "output", "result", value)
            previous_output = shape.output_artifact(k - 1) if k > 0 else None
            if previous_output:
                prev_pod = f"{wf}-{tasks[k - 1]}-{task_ids[k - 1].rsplit('-', 1)[1]}"
                key = f"artifacts/{wf}/{prev_pod}/{previous_output}.tgz"
                self._ref(rid, node_id, "input", "input-data", key, shape.artifact_id(i, k - 1))
            if k == len(tasks) - 1:
                champion = shape.champion_of(i)
                if champion is not None:
                    self._champion(rid, node_id, champion, s_start)
            output = shape.output_artifact(k)
            if done and output:
                key = f"artifacts/{wf}/{pod}/{output}.tgz"
                aid = shape.artifact_id(i, k)
                self._ref(rid, node_id, "output", output, key, aid)
                self._artifact_row(aid, key, state="pending" if phase in ("Running",) else "indexed", at=s_end,
                                   size=10_000 + _h(aid, 23) % 50_000_000)  # fmt: skip
            if done and k in (TRAIN, EVALUATE):
                slot = len(tasks) + (0 if k == TRAIN else 1)
                aid = shape.artifact_id(i, slot)
                key = f"artifacts/{wf}/{pod}/mlpipeline-metrics.tgz"
                self._ref(rid, node_id, "output", "mlpipeline-metrics", key, aid)
                self._artifact_row(aid, key, state="indexed", at=s_end, size=180)
                values = (("accuracy", min(0.999, accuracy + 0.02), "PERCENTAGE"), ("loss", round(1 - accuracy, 4), "RAW")) \
                    if k == TRAIN else (("accuracy", accuracy, "PERCENTAGE"), ("auc", min(0.999, accuracy + 0.05), "RAW"))  # fmt: skip
                for metric, value, fmt in values:
                    self._add("artifact_metrics", aid, metric, value, fmt)
                    self._add("metrics", rid, node_id, metric, value, fmt, aid)
        # The run's value of a metric is the one of the step that finished last: evaluate's accuracy.
        if shape.succeeded(i, EVALUATE):
            train_id, eval_id = task_ids[TRAIN], task_ids[EVALUATE]
            self._add("run_metrics", rid, "accuracy", accuracy, eval_id)
            self._add("run_metrics", rid, "auc", min(0.999, accuracy + 0.05), eval_id)
            self._add("run_metrics", rid, "loss", round(1 - accuracy, 4), train_id)
        elif shape.succeeded(i, TRAIN):
            train_id = task_ids[TRAIN]
            self._add("run_metrics", rid, "accuracy", min(0.999, accuracy + 0.02), train_id)
            self._add("run_metrics", rid, "loss", round(1 - accuracy, 4), train_id)

    def _champion(self, rid: str, node_id: str, champion: int, at: float) -> None:
        shape = self.shape
        tasks = shape.tasks
        deploy = len(tasks) - 1
        c_wf = shape.name(champion)
        c_pod = f"{c_wf}-{tasks[deploy]}-{_h(champion, 100 + deploy) & 0xFFFFFFFF}"
        key = f"artifacts/{c_wf}/{c_pod}/model.tgz"
        aid = shape.artifact_id(champion, deploy)
        self._ref(rid, node_id, "input", "champion-model", key, aid)
        if not shape.succeeded(champion, deploy):
            # Nobody produced it: its only row comes from this consumer, and HEAD found nothing.
            self._artifact_row(aid, key, state="missing", at=at, size=0)


def generate(shape: Shape, start: int, stop: int, with_datasets: bool = False) -> tuple[dict[str, bytes], int]:
    """COPY text per table for runs [start, stop), and the number of rows."""
    chunk = Chunk(shape)
    if with_datasets:
        chunk.datasets()
    chunk.add_runs(start, stop)
    rows = sum(len(r) for r in chunk.rows.values())
    return chunk.encoded(), rows
