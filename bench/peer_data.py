"""The peer benchmark's one dataset: training runs whose artifacts feed later runs, and the questions.

Every system in bench.peers loads the same runs, generated from a seed with ``random.Random``, so
a seed always gives the same dataset. This module is standard library only: the peers import it
inside their own virtual environments.

A run is a four-step DAG, the shape of a KFP training pipeline:

    ingest (dataset version) -> preprocess -> train (+ warm start) -> evaluate (KFP metrics)

* ``ingest`` reads one of a few shared dataset versions, produced outside any run (hot artifacts,
  read by hundreds of runs);
* ``train`` warm-starts from the model the previous run of its family trained, so each family of
  runs is one lineage chain; two hops per run: model <- train <- previous model. With 100 runs per
  family, a chain is ~200 hops long, so every upstream walk asked about stays inside its chain;
* ``evaluate`` writes the KFP metrics file (accuracy, loss) that is the run's metrics;
* run parameters: optimizer (adam for ~40 % of runs), lr, batch_size, epochs.

Runs are created 30 s apart; all succeed. Artifacts are named by their S3 URI, which every system
keeps, so answers compare by URI and by run/step name.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path

BUCKET = "mlpipeline"
PIPELINE = "train-classifier"
START = 1_740_992_400.0  # 2025-03-03T09:00:00Z
INTERVAL_SECONDS = 30
FAMILY_RUNS = 100  # runs per warm-start chain
DATASET_VERSIONS = 20
OPTIMIZERS = ("adam", "adam", "sgd", "rmsprop", "adagrad")  # adam twice: ~40 % of runs
LEARNING_RATES = ("0.1", "0.01", "0.001", "0.0001")
BATCH_SIZES = ("32", "64", "128", "256")
EPOCHS = ("5", "10", "20", "50")
LIST_LIMIT = 100
LINEAGE_HOPS = (2, 10, 50)


@dataclass(frozen=True)
class Step:
    name: str
    inputs: tuple[tuple[str, str], ...]  # (name, uri)
    outputs: tuple[tuple[str, str], ...]
    started: float
    finished: float


@dataclass(frozen=True)
class Run:
    name: str
    uid: str
    created: float
    finished: float
    params: dict[str, str]
    metrics: dict[str, float]
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Dataset:
    seed: int
    datasets: tuple[str, ...]  # URIs of the shared inputs, produced by no run
    runs: tuple[Run, ...]  # oldest first

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    def write(self, path: Path) -> Path:
        path.write_bytes(self.to_json())
        return path


def uri(key: str) -> str:
    return f"s3://{BUCKET}/{key}"


def generate(*, runs: int, seed: int = 1) -> Dataset:
    rng = random.Random(seed)
    families = max(1, runs // FAMILY_RUNS)
    datasets = tuple(uri(f"datasets/events/v{v}/data.csv") for v in range(DATASET_VERSIONS))
    out: list[Run] = []
    for i in range(runs):
        name = f"{PIPELINE}-{i:06d}"
        created = START + i * INTERVAL_SECONDS
        params = {
            "optimizer": rng.choice(OPTIMIZERS),
            "lr": rng.choice(LEARNING_RATES),
            "batch_size": rng.choice(BATCH_SIZES),
            "epochs": rng.choice(EPOCHS),
        }
        accuracy = round(rng.uniform(0.70, 0.99), 6)
        metrics = {"accuracy": accuracy, "loss": round(1 - accuracy + rng.uniform(0, 0.05), 6)}
        key = f"artifacts/{name}"
        raw, features = uri(f"{key}/ingest/raw.tgz"), uri(f"{key}/preprocess/features.tgz")
        model, scores = uri(f"{key}/train/model.tgz"), uri(f"{key}/evaluate/mlpipeline-metrics.tgz")
        warm = (("warm-start", out[i - families].steps[2].outputs[0][1]),) if i >= families else ()
        plan = (
            ("ingest", (("dataset", rng.choice(datasets)),), (("raw", raw),)),
            ("preprocess", (("raw", raw),), (("features", features),)),
            ("train", (("features", features), *warm), (("model", model),)),
            ("evaluate", (("model", model), ("features", features)), (("mlpipeline-metrics", scores),)),
        )
        t = created + 2
        steps = []
        for step, inputs, outputs in plan:
            duration = rng.randint(5, 120)
            steps.append(Step(step, inputs, outputs, t, t + duration))
            t += duration + 1
        uid = f"{rng.getrandbits(32):08x}-0000-4000-8000-{i:012x}"
        out.append(Run(name, uid, created, t, params, metrics, tuple(steps)))
    return Dataset(seed, datasets, tuple(out))


def longest_chain_hops(dataset: Dataset) -> int:
    """Hops of the longest warm-start chain: model <- train <- previous model, two per run."""
    trained_by = {s.outputs[0][1]: s for r in dataset.runs for s in r.steps if s.name == "train"}
    longest = 0
    for run in dataset.runs:
        hops, step = 0, run.steps[2]
        while True:
            warm = dict(step.inputs).get("warm-start")
            if warm is None:
                break
            hops, step = hops + 2, trained_by[warm]
        longest = max(longest, hops + 1)
    return longest


# --- the questions ------------------------------------------------------------------------------


def questions(dataset: Dataset) -> list[dict]:
    """What every system is asked, as JSON. Lineage starts at the newest run's model (the deepest
    point of its chain)."""
    model = dict(dataset.runs[-1].steps[2].outputs)["model"]
    asked = [
        {"id": "newest", "title": "100 newest runs"},
        {"id": "adam", "title": "100 runs, optimizer=adam", "optimizer": "adam"},
        {"id": "adam_accuracy", "title": "adam & accuracy > 0.9", "optimizer": "adam", "accuracy_above": 0.9},
        {"id": "by_accuracy", "title": "100 runs by accuracy desc"},
    ]
    asked += [
        {"id": f"lineage_{h}", "title": f"lineage upstream, {h} hops", "uri": model, "hops": h} for h in LINEAGE_HOPS
    ]
    for q in asked:
        q["limit"] = LIST_LIMIT
    return asked


class AnswersDiffer(Exception):
    """Two systems returned different answers to one question."""


def check_answers(answers: dict[str, dict[str, list[str]]]) -> None:
    """answers: system -> question id -> what it returned (run names, or node names for lineage).
    Raises AnswersDiffer naming every disagreement; a question a system could not answer is absent."""
    problems: list[str] = []
    asked = sorted({q for by_question in answers.values() for q in by_question})
    for question in asked:
        given = {system: a[question] for system, a in answers.items() if question in a}
        sizes = {system: len(a) for system, a in given.items()}
        if len(set(sizes.values())) > 1:
            problems.append(f"{question}: answer sizes differ: {sizes}")
            continue
        contents = {system: sorted(a) for system, a in given.items()}
        reference_system, reference = next(iter(contents.items()), ("", []))
        for system, content in contents.items():
            if content != reference:
                extra = sorted(set(content) - set(reference))[:3]
                problems.append(f"{question}: {system} and {reference_system} return different items (e.g. {extra})")
    if problems:
        raise AnswersDiffer("; ".join(problems))
