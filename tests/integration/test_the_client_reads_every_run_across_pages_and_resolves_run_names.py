"""The client against a seeded API over real HTTP: paging is the caller's for free, and a run is
found by its id, its KFP run id or its namespace/name."""

from __future__ import annotations

import pytest

from runledger.client import NotFound, RunledgerClient
from tests.support.live_api import seeded_api


@pytest.fixture(scope="module")
def base_url(pg_server_uri, template_database, moto_server, tmp_path_factory):
    with seeded_api(server_uri=pg_server_uri, template=template_database, moto=moto_server,
                    tmp_path=tmp_path_factory.mktemp("client")) as url:  # fmt: skip
        yield url


def test_iterating_runs_follows_page_tokens_to_the_last_run(base_url):
    with RunledgerClient(base_url) as client:
        one_page = client.list_runs(limit=500, count=True)
        paged = [run.id for run in client.iter_runs(page_size=2)]
        filtered = [run.name for run in client.iter_runs(page_size=1, params={"lr": "0.1"}, sort="name")]
    assert paged == [run.id for run in one_page.runs] and len(paged) == one_page.total > 4
    assert {"alpha", "gamma"} <= set(filtered) and "beta" not in filtered and filtered == sorted(filtered)


def test_a_run_is_found_by_its_id_its_kfp_run_id_and_its_namespace_and_name(base_url):
    with RunledgerClient(base_url) as client:
        by_id = client.find_run("uid-gamma")
        by_name = client.find_run(f"{by_id.namespace}/gamma")
        kfp = [run for run in client.iter_runs() if run.kfp_run_id][0]
        by_kfp_id = client.find_run(kfp.kfp_run_id)
        with pytest.raises(NotFound, match="no run named 'nope' in namespace 'ml'"):
            client.find_run("ml/nope")
    assert by_id.name == "gamma" and by_name.id == "uid-gamma" and by_kfp_id.id == kfp.id
    assert [m.name for m in by_id.metrics] == ["accuracy"]


def test_steps_artifacts_lineage_and_comparisons_read_as_typed_models(base_url):
    with RunledgerClient(base_url) as client:
        steps = client.list_steps("uid-gamma")
        artifacts = [a for a in client.iter_artifacts(page_size=1, uri_prefix="s3://mlpipeline/runs/gamma/")]
        detail = client.get_artifact(artifacts[0].uri)
        graph = client.lineage("run:uid-reader", direction="upstream")
        comparison = client.compare_runs(["uid-alpha", "uid-beta", "nope"])
    assert any(a.state == "indexed" for s in steps for a in s.outputs.artifacts)
    assert {a.uri for a in artifacts} == {"s3://mlpipeline/runs/gamma/metrics.tgz", "s3://mlpipeline/runs/gamma/model.bin"}
    assert detail.produced_by[0].run_id == "uid-gamma"
    assert any(n.kind == "step" and not n.redacted and n.run_id == "uid-gamma" for n in graph.nodes)
    assert comparison.parameters["lr"] == {"uid-alpha": "0.1", "uid-beta": "0.01"} and comparison.missing == ["nope"]
