"""RUNLEDGER_SHARD=INDEX/COUNT: every namespace belongs to exactly one shard, by a stable hash."""

from __future__ import annotations

import hashlib

import pytest
from pydantic import ValidationError

from runledger.core.settings import ClusterSettings, Settings
from runledger.core.shards import Shard
from runledger.service import shard_lease_name

NAMESPACES = [f"team-{i}" for i in range(300)] + ["default", "kubeflow", "argo", "ünïcode"]


def test_every_namespace_belongs_to_exactly_one_shard_of_a_set():
    for count in (1, 2, 3, 7):
        shards = [Shard(index=i, count=count) for i in range(count)]
        for namespace in NAMESPACES:
            assert sum(s.owns(namespace) for s in shards) == 1


def test_the_namespaces_spread_over_the_shards():
    owned = [sum(Shard(index=i, count=3).owns(n) for n in NAMESPACES) for i in range(3)]
    assert min(owned) > len(NAMESPACES) / 3 * 0.7


def test_the_shard_is_the_first_32_bits_of_the_namespace_md5_so_every_process_agrees():
    # Python's hash() is seeded per process: agents using it would split a cluster differently each.
    for namespace in NAMESPACES:
        bucket = int(hashlib.md5(namespace.encode()).hexdigest()[:8], 16) % 5
        assert Shard(index=bucket, count=5).owns(namespace)


@pytest.mark.parametrize("spec", ["3", "1/0", "3/3", "-1/2", "a/b", "1/2/3"])
def test_a_malformed_shard_is_refused_with_what_to_write(spec):
    with pytest.raises(ValidationError, match="shard"):
        Settings(cluster=ClusterSettings(shard=spec))


def test_a_shard_setting_reads_as_index_and_count():
    assert ClusterSettings(shard=" 1 / 3 ").shard_spec == Shard(index=1, count=3)
    assert Settings().cluster.shard_spec is None


def test_each_shard_of_a_set_campaigns_for_a_lease_of_its_own():
    names = {shard_lease_name("runledger-agent", Shard(index=i, count=n)) for n in (2, 3) for i in range(n)}
    assert len(names) == 5 and "runledger-agent-1-of-3" in names
    assert shard_lease_name("runledger-agent", None) == "runledger-agent"
