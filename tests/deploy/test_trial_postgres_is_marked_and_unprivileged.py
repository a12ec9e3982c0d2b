"""deploy/postgres: a single unprivileged Postgres for trying runledger out, loudly not for production."""

from __future__ import annotations

from tests.deploy.manifests import DEPLOY, one, rendered


def test_every_file_says_not_for_production():
    for path in (DEPLOY / "postgres").iterdir():
        assert "NOT FOR PRODUCTION" in path.read_text(), path.name
    assert "NOT FOR PRODUCTION" in (DEPLOY / "README.md").read_text()


def test_postgres_runs_as_the_images_postgres_user_with_its_data_on_a_claim():
    statefulset = one(rendered("postgres"), "StatefulSet", "runledger-postgres")
    pod = statefulset["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert statefulset["spec"]["replicas"] == 1
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == pod["securityContext"]["fsGroup"] == 999
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    [claim] = statefulset["spec"]["volumeClaimTemplates"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts[claim["metadata"]["name"]] == "/var/lib/postgresql"
    assert ":" in container["image"] and not container["image"].endswith(":latest")
    password = next(e for e in container["env"] if e["name"] == "POSTGRES_PASSWORD")
    assert password["valueFrom"]["secretKeyRef"] == {"name": "runledger-postgres", "key": "password"}


def test_service_reaches_the_postgres_pod_by_the_name_the_readme_dsn_uses():
    objects = rendered("postgres")
    service = one(objects, "Service", "runledger-postgres")
    statefulset = one(objects, "StatefulSet", "runledger-postgres")
    assert statefulset["spec"]["serviceName"] == service["metadata"]["name"]
    assert service["spec"]["selector"].items() <= statefulset["spec"]["template"]["metadata"]["labels"].items()
    assert [p["port"] for p in service["spec"]["ports"]] == [5432]
    assert "@runledger-postgres:5432/runledger" in (DEPLOY / "README.md").read_text()
