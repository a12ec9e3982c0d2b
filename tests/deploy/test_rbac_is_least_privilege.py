"""The ServiceAccount gets exactly the rights runledger uses, in each install, and nothing more.

Rights are compared as the normalised set of (apiGroup, resource, verb, resourceName) the
ServiceAccount ends up with, per scope ("cluster" or a namespace), by following every binding.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.deploy.manifests import RUNLEDGER_VARIANTS, find, one, rendered

Grant = tuple[str, str, str, str | None]

WATCH = ("get", "list", "watch")
READ = {
    *{("argoproj.io", "workflows", verb, None) for verb in WATCH},
    *{("", "pods", verb, None) for verb in WATCH},
    ("", "configmaps", "get", "artifact-repositories"),
    ("", "configmaps", "get", "workflow-controller-configmap"),
}
REVIEWS = {
    ("authentication.k8s.io", "tokenreviews", "create", None),
    ("authorization.k8s.io", "subjectaccessreviews", "create", None),
}
LEASES = {("coordination.k8s.io", "leases", verb, None) for verb in ("get", "create", "update")}

EXPECTED = {
    "base": {"cluster": READ | REVIEWS, "default": LEASES},
    "kubeflow": {"cluster": READ | REVIEWS, "kubeflow": LEASES},
    "namespaced": {"cluster": REVIEWS, "ml-team": READ | LEASES},
    "read-replicas": {"cluster": READ | REVIEWS, "default": LEASES},
}


def expand(rules: list[dict[str, Any]]) -> set[Grant]:
    grants = set()
    for rule in rules:
        assert "nonResourceURLs" not in rule
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                for verb in rule["verbs"]:
                    for name in rule.get("resourceNames") or [None]:
                        grants.add((group, resource, verb, name))
    return grants


def namespace_of(obj: dict[str, Any]) -> str:
    return obj["metadata"].get("namespace") or "default"  # unset: kubectl applies it to `default`


def effective_grants(objects: list[dict[str, Any]]) -> dict[str, set[Grant]]:
    account = one(objects, "ServiceAccount", "runledger")
    me = {"kind": "ServiceAccount", "name": "runledger", "namespace": namespace_of(account)}
    roles = {(r["kind"], r["metadata"].get("namespace"), r["metadata"]["name"]): r
             for r in find(objects, "Role") + find(objects, "ClusterRole")}  # fmt: skip
    grants: dict[str, set[Grant]] = {}
    for binding in find(objects, "RoleBinding") + find(objects, "ClusterRoleBinding"):
        subjects = [dict(s, namespace=s.get("namespace") or namespace_of(binding)) for s in binding["subjects"]]
        assert subjects == [me], f"{binding['kind']}/{binding['metadata']['name']} binds {binding['subjects']}"
        ref = binding["roleRef"]
        role_ns = binding["metadata"].get("namespace") if ref["kind"] == "Role" else None
        role = roles.get((ref["kind"], role_ns, ref["name"]))
        assert role is not None, f"{binding['metadata']['name']} refers to a missing {ref['kind']} {ref['name']}"
        scope = "cluster" if binding["kind"] == "ClusterRoleBinding" else namespace_of(binding)
        grants.setdefault(scope, set()).update(expand(role["rules"]))
    return grants


@pytest.mark.parametrize("variant", RUNLEDGER_VARIANTS)
def test_service_account_has_exactly_the_least_privilege_grants(variant: str):
    assert effective_grants(rendered(variant)) == EXPECTED[variant]


@pytest.mark.parametrize("variant", RUNLEDGER_VARIANTS)
def test_every_role_is_bound_and_none_uses_wildcards(variant: str):
    objects = rendered(variant)
    bound = {(b["roleRef"]["kind"], b["roleRef"]["name"]) for b in find(objects, "RoleBinding")
             + find(objects, "ClusterRoleBinding")}  # fmt: skip
    for role in find(objects, "Role") + find(objects, "ClusterRole"):
        assert (role["kind"], role["metadata"]["name"]) in bound, f"{role['kind']} {role['metadata']['name']}"
        for rule in role["rules"]:
            assert "*" not in rule["apiGroups"] + rule["resources"] + rule["verbs"]


def test_namespaced_install_reads_nothing_outside_its_namespace():
    objects = rendered("namespaced")
    cluster = effective_grants(objects)["cluster"]
    assert {resource for _, resource, _, _ in cluster} == {"tokenreviews", "subjectaccessreviews"}
    config = one(objects, "ConfigMap", "runledger-config")["data"]
    assert config["RUNLEDGER_KUBE_NAMESPACES"] == "ml-team"  # so the agent lists per namespace


def test_the_deployment_runs_as_the_bound_service_account():
    for variant in RUNLEDGER_VARIANTS:
        objects = rendered(variant)
        pod = one(objects, "Deployment", "runledger")["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == "runledger"
        assert pod.get("automountServiceAccountToken", True) is True
