"""deploy/overlays/sharded: two agent installs splitting the cluster (RUNLEDGER_SHARD=0/2, 1/2).

Each shard must be exactly the base (so every test of the base holds for it) apart from its name
suffix, its shard label (also in its selectors, so neither shard's Service or budget picks the
other's pods) and its RUNLEDGER_SHARD; one more Service reads from both.
"""

from __future__ import annotations

from typing import Any

from runledger.core.settings import Settings
from runledger.core.shards import Shard
from tests.deploy.manifests import one, rendered

LABEL = "runledger.dev/shard"


def without_shard(value: Any, index: int) -> Any:
    """`value` with this shard's suffix, label and setting taken out."""
    suffix = f"-shard-{index}"
    if isinstance(value, dict):
        return {k: without_shard(v, index) for k, v in value.items() if k not in (LABEL, "RUNLEDGER_SHARD")}
    if isinstance(value, list):
        return [without_shard(v, index) for v in value]
    if isinstance(value, str) and value.endswith(suffix):
        return value.removesuffix(suffix)
    return value


def key(obj: dict) -> tuple[str, str]:
    return obj["kind"], obj["metadata"]["name"]


def shard_objects(index: int) -> list[dict]:
    return [o for o in rendered("sharded") if o["metadata"].get("labels", {}).get(LABEL) == str(index)]


def test_each_shard_is_the_base_but_for_its_suffix_label_and_shard_setting():
    base = sorted(rendered("base"), key=key)
    for index in (0, 1):
        assert sorted((without_shard(o, index) for o in shard_objects(index)), key=key) == base


def test_the_shards_are_zero_and_one_of_two_and_parse_as_settings(monkeypatch):
    for index in (0, 1):
        config = one(shard_objects(index), "ConfigMap", f"runledger-config-shard-{index}")["data"]
        for name, value in config.items():
            monkeypatch.setenv(name, value)
        assert Settings().cluster.shard_spec == Shard(index=index, count=2)


def test_each_shards_selectors_pick_only_its_own_pods():
    for index in (0, 1):
        objects = shard_objects(index)
        pods = one(objects, "Deployment", f"runledger-shard-{index}")["spec"]["template"]["metadata"]["labels"]
        for kind in ("Service", "PodDisruptionBudget"):
            spec = one(objects, kind, f"runledger-shard-{index}")["spec"]
            selector = spec["selector"].get("matchLabels", spec["selector"])
            assert selector[LABEL] == str(index) and selector.items() <= pods.items()


def test_one_service_reads_from_every_shard():
    service = one(rendered("sharded"), "Service", "runledger")
    assert service["spec"]["selector"] == {"app.kubernetes.io/name": "runledger"}
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]
