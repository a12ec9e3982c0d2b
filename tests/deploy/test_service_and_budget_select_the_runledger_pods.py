"""The Service and the PodDisruptionBudget select exactly the Deployment's pods."""

from __future__ import annotations

import pytest

from tests.deploy.manifests import RUNLEDGER_VARIANTS, one, rendered


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and selector.items() <= labels.items()


@pytest.mark.parametrize("variant", RUNLEDGER_VARIANTS)
def test_service_exposes_port_8080_named_http_of_the_deployments_pods(variant: str):
    objects = rendered(variant)
    deployment, service = one(objects, "Deployment", "runledger"), one(objects, "Service", "runledger")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"] == [{"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}]
    assert selects(service["spec"]["selector"], pod_labels)
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


@pytest.mark.parametrize("variant", RUNLEDGER_VARIANTS)
def test_disruption_budget_keeps_one_of_the_deployments_pods(variant: str):
    objects = rendered(variant)
    deployment, budget = one(objects, "Deployment", "runledger"), one(objects, "PodDisruptionBudget", "runledger")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert selects(budget["spec"]["selector"]["matchLabels"], pod_labels)
    assert budget["spec"]["minAvailable"] == 1 < deployment["spec"]["replicas"]


def test_runledger_selectors_do_not_match_the_trial_postgres_pods():
    postgres_labels = one(rendered("postgres"), "StatefulSet")["spec"]["template"]["metadata"]["labels"]
    for variant in RUNLEDGER_VARIANTS:
        selector = one(rendered(variant), "Service", "runledger")["spec"]["selector"]
        assert not selects(selector, postgres_labels)
