"""The runledger pods run unprivileged, read-only, probed, bounded and spread, in every install."""

from __future__ import annotations

import pytest

from tests.deploy.manifests import (
    RUNLEDGER_VARIANTS,
    one,
    rendered,
    runledger_container,
)

UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "K": 10**3, "M": 10**6, "G": 10**9}


def memory_bytes(quantity: str) -> int:
    for suffix, factor in UNITS.items():
        if quantity.endswith(suffix):
            return int(quantity[: -len(suffix)]) * factor
    return int(quantity)


def pod_spec(variant: str) -> dict:
    return one(rendered(variant), "Deployment", "runledger")["spec"]["template"]["spec"]


@pytest.mark.parametrize("variant", RUNLEDGER_VARIANTS)
def test_pod_runs_as_a_non_root_user_under_the_runtime_seccomp_profile(variant: str):
    security = pod_spec(variant)["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["runAsUser"] == 10001  # the image's USER
    assert security["fsGroup"] > 0
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod_spec(variant).get("hostNetwork", False) is False


@pytest.mark.parametrize("variant", RUNLEDGER_VARIANTS)
def test_container_cannot_escalate_write_its_root_or_keep_capabilities(variant: str):
    security = runledger_container(rendered(variant))["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security.get("privileged", False) is False


@pytest.mark.parametrize("variant", RUNLEDGER_VARIANTS)
def test_tmp_is_the_only_writable_path(variant: str):
    container, pod = runledger_container(rendered(variant)), pod_spec(variant)
    assert container["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
    [volume] = pod["volumes"]
    assert volume["name"] == "tmp" and "emptyDir" in volume
    config = one(rendered(variant), "ConfigMap", "runledger-config")["data"]
    assert config["RUNLEDGER_DATA_DIR"].startswith("/tmp/")


@pytest.mark.parametrize("variant", RUNLEDGER_VARIANTS)
def test_probes_use_readyz_and_healthz_on_the_http_port(variant: str):
    container = runledger_container(rendered(variant))
    assert {"name": "http", "containerPort": 8080, "protocol": "TCP"} in container["ports"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    # Liveness must not use /readyz: that is 503 during the initial list and while Postgres is away,
    # and restarting would not help. /healthz stays 200 on a standby waiting for the lease.
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    startup = container["startupProbe"]
    assert startup["httpGet"] == {"path": "/healthz", "port": "http"}
    # Migrations run before the API listens; give them minutes, not seconds.
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 120


@pytest.mark.parametrize("variant", RUNLEDGER_VARIANTS)
def test_resources_have_requests_and_limits_above_the_agents_footprint(variant: str):
    resources = runledger_container(rendered(variant))["resources"]
    for bound in ("requests", "limits"):
        assert set(resources[bound]) == {"cpu", "memory"}
    # The agent stays under 300 MB RSS at 10,000 active workflows.
    assert memory_bytes(resources["limits"]["memory"]) >= 400 * 10**6
    assert memory_bytes(resources["requests"]["memory"]) <= memory_bytes(resources["limits"]["memory"])


@pytest.mark.parametrize("variant", RUNLEDGER_VARIANTS)
def test_two_replicas_spread_over_nodes_and_get_time_to_drain(variant: str):
    deployment = one(rendered(variant), "Deployment", "runledger")
    pod = deployment["spec"]["template"]["spec"]
    assert deployment["spec"]["replicas"] == 2
    assert pod["terminationGracePeriodSeconds"] >= 30  # SIGTERM drains queued states for up to 20 s
    [spread] = pod["topologySpreadConstraints"]
    assert spread["topologyKey"] == "kubernetes.io/hostname"
    assert spread["whenUnsatisfiable"] == "ScheduleAnyway"
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert spread["labelSelector"]["matchLabels"].items() <= labels.items()


@pytest.mark.parametrize("variant", RUNLEDGER_VARIANTS)
def test_environment_comes_from_the_config_map_secrets_and_downward_api(variant: str):
    container = runledger_container(rendered(variant))
    assert container["envFrom"] == [{"configMapRef": {"name": "runledger-config"}}]
    env = {e["name"]: e for e in container["env"]}
    assert all("value" not in e for e in env.values()), "literal values belong in the ConfigMap"
    assert env["RUNLEDGER_LEADER_LEASE_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    assert env["RUNLEDGER_LEADER_IDENTITY"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    # A Service named runledger would inject RUNLEDGER_PORT & co. into the settings' namespace.
    assert pod_spec(variant)["enableServiceLinks"] is False


@pytest.mark.parametrize("variant", RUNLEDGER_VARIANTS)
def test_image_is_the_pinned_release(variant: str):
    container = runledger_container(rendered(variant))
    assert container["image"] == "ghcr.io/runledger/runledger:0.1.0"
    assert container["args"] == ["run"]
