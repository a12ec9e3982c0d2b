"""Each repository's objects are signed with that repository's credentials, on both S3 paths.

A moto server of its own, with request authentication on (moto checks signatures only when told
to), knows one IAM identity per repository, each allowed to read one bucket and nothing else. So an
object that is found proves S3 received a valid signature made with the key pair that may read it,
and a 403 where the wrong repository's key pair is chosen proves which one was used. Every endpoint
name leads to the same server through the endpoint map, as port-forwarded MinIOs would.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr

from runledger.core.settings import (
    ArtifactsSettings,
    DatabaseSettings,
    IngestSettings,
    Settings,
)
from runledger.indexer.s3 import Location, ObjectStore, ObjectUnavailable
from tests.support.artifacts import index_everything
from tests.support.builders import WorkflowBuilder
from tests.support.ingesting import ingest
from tests.support.s3 import MotoServer, argo_tgz

TEAM_A, TEAM_B, OTHER, TEMP = "minio.team-a:9000", "minio.team-b:9000", "minio.other:9000", "minio.temp:9000"
# Identity -> the one bucket it may read.
BUCKETS = {"team-a": "team-a-artifacts", "team-b": "team-b-artifacts", "models": "team-a-models",
           "global": "shared-artifacts", "temp": "temp-artifacts"}  # fmt: skip
KEY = "runs/r1/model.bin"
RUNS = ("r1", "r2")  # every bucket holds both runs' files
METRICS = {"metrics": [{"name": "accuracy", "numberValue": 0.9}]}


@dataclass(frozen=True)
class Identity:
    access_key: str
    secret_key: str
    token: str | None = None


@dataclass(frozen=True)
class Repositories:
    url: str
    identities: dict[str, Identity]

    def secrets(self) -> list[str]:
        return [s for i in self.identities.values() for s in (i.secret_key, i.token) if s]


def _policy(bucket: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]},
    ]})  # fmt: skip


@pytest.fixture(scope="module")
def repositories() -> Iterator[Repositories]:
    server = MotoServer()
    server.start()
    try:
        iam, sts, s3 = (server.admin_client(service) for service in ("iam", "sts", "s3"))
        identities = {}
        for name, bucket in BUCKETS.items():
            s3.create_bucket(Bucket=bucket)
            for run in RUNS:
                s3.put_object(Bucket=bucket, Key=f"runs/{run}/model.bin", Body=f"{name}'s model".encode())
                s3.put_object(Bucket=bucket, Key=f"runs/{run}/metrics.tgz",
                              Body=argo_tgz("mlpipeline-metrics.json", json.dumps(METRICS).encode()))  # fmt: skip
            if name == "temp":  # temporary credentials: a role's session, with a session token to sign
                role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({
                    "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"},
                                                            "Action": "sts:AssumeRole"}]}))  # fmt: skip
                iam.put_role_policy(RoleName=name, PolicyName="read", PolicyDocument=_policy(bucket))
                temporary = sts.assume_role(RoleArn=role["Role"]["Arn"], RoleSessionName="runledger")["Credentials"]
                identities[name] = Identity(temporary["AccessKeyId"], temporary["SecretAccessKey"],
                                            temporary["SessionToken"])  # fmt: skip
                continue
            iam.create_user(UserName=name)
            iam.put_user_policy(UserName=name, PolicyName="read", PolicyDocument=_policy(bucket))
            key = iam.create_access_key(UserName=name)["AccessKey"]
            identities[name] = Identity(key["AccessKeyId"], key["SecretAccessKey"])
        server.require_signatures()
        yield Repositories(server.url, identities)
    finally:
        server.stop()


def _entry(identity: Identity) -> dict[str, str]:
    entry = {"access_key_id": identity.access_key, "secret_access_key": identity.secret_key}
    return entry | ({"session_token": identity.token} if identity.token else {})


def settings_for(r: Repositories, tmp_path: Path) -> Settings:
    ids = r.identities
    credentials = {
        TEAM_A: _entry(ids["team-a"]),
        f"{TEAM_A}/{BUCKETS['models']}": _entry(ids["models"]),  # one bucket on team A's endpoint
        TEAM_B: _entry(ids["team-b"]),
        TEMP: _entry(ids["temp"]),
    }
    return Settings(
        database=DatabaseSettings(data_dir=tmp_path, pool_max=4), ingest=IngestSettings(workers=2),
        artifacts=ArtifactsSettings(
            endpoint_map={e: r.url for e in (TEAM_A, TEAM_B, OTHER, TEMP)},
            credentials=SecretStr(json.dumps(credentials)),
            access_key_id=SecretStr(ids["global"].access_key),
            secret_access_key=SecretStr(ids["global"].secret_key),
            timeout_seconds=5.0, workers=4,
        ),
    )  # fmt: skip


# (recorded endpoint, bucket): the identity whose key pair must sign it.
READABLE = [
    (TEAM_A, BUCKETS["team-a"]),  # the endpoint's entry
    (TEAM_B, BUCKETS["team-b"]),  # another endpoint's entry, same server
    (TEAM_A, BUCKETS["models"]),  # endpoint/bucket beats the endpoint
    (OTHER, BUCKETS["global"]),  # no entry: the global pair
    (TEMP, BUCKETS["temp"]),  # temporary credentials, session token signed along
]
# Signed with a key pair that may not read the bucket, had the choice been different it would pass.
UNREADABLE = [
    (TEAM_B, BUCKETS["team-a"]),
    (TEAM_B, BUCKETS["models"]),  # the bucket entry belongs to team A's endpoint only
    (TEAM_A, BUCKETS["global"]),  # an endpoint entry, not the global pair
    (OTHER, BUCKETS["team-a"]),
]


def at(endpoint: str, bucket: str, key: str = KEY) -> Location:
    return Location(bucket=bucket, key=key, endpoint=endpoint, insecure=True)


@pytest.mark.parametrize(("endpoint", "bucket"), READABLE)
async def test_the_lean_head_is_signed_with_the_repositorys_own_credentials(
    repositories, tmp_path, lean_only, endpoint, bucket
):
    store = ObjectStore(artifacts=settings_for(repositories, tmp_path).artifacts)
    try:
        assert (await store.head(at(endpoint, bucket))).size > 0
    finally:
        await store.close()


@pytest.mark.parametrize(("endpoint", "bucket"), READABLE)
async def test_botocore_heads_and_gets_are_signed_with_the_repositorys_own_credentials(
    repositories, tmp_path, endpoint, bucket
):
    store = ObjectStore(artifacts=settings_for(repositories, tmp_path).artifacts)
    try:
        assert (await store._head_botocore(at(endpoint, bucket))).size > 0
        assert (await store.read(at(endpoint, bucket), max_bytes=1024)).endswith(b"'s model")
    finally:
        await store.close()


@pytest.mark.parametrize(("endpoint", "bucket"), UNREADABLE)
async def test_another_repositorys_credentials_are_refused_on_both_paths(
    repositories, tmp_path, lean_only, endpoint, bucket
):
    store = ObjectStore(artifacts=settings_for(repositories, tmp_path).artifacts)
    try:
        attempts = (store.head(at(endpoint, bucket)), store.read(at(endpoint, bucket), max_bytes=1024))
        for attempt in attempts:
            with pytest.raises(ObjectUnavailable) as raised:
                await attempt
            assert raised.value.state == "forbidden" and "403" in raised.value.reason
            assert not any(secret in raised.value.reason for secret in repositories.secrets())
    finally:
        await store.close()


async def test_one_store_keeps_a_client_per_endpoint_and_key_pair(repositories, tmp_path):
    store = ObjectStore(artifacts=settings_for(repositories, tmp_path).artifacts)
    try:
        for endpoint, bucket in READABLE + READABLE:
            await store.read(at(endpoint, bucket), max_bytes=1024)
        # One URL for every endpoint name, but five key pairs: five clients, each reused.
        assert len(store._clients) == len(READABLE)
    finally:
        await store.close()


async def test_the_indexer_reads_each_repository_with_its_credentials_and_never_shows_a_secret(
    pool, conn, repositories, tmp_path, caplog
):
    caplog.set_level(logging.DEBUG)
    settings = settings_for(repositories, tmp_path)
    # Run r1's files through each readable repository; run r2's in team A's bucket, recorded on team B's endpoint.
    placed = [(endpoint, bucket, "r1") for endpoint, bucket in READABLE] + [(TEAM_B, BUCKETS["team-a"], "r2")]
    events = []
    for i, (endpoint, bucket, run) in enumerate(placed):
        wf = WorkflowBuilder(name=f"wf{i}")
        wf.node(f"wf{i}-train", "Succeeded", outputs={"artifacts": [
            {"name": name, "path": f"/tmp/{name}",
             "s3": {"bucket": bucket, "key": f"runs/{run}/{file}", "endpoint": endpoint, "insecure": True}}
            for name, file in (("model", "model.bin"), ("mlpipeline-metrics", "metrics.tgz"))
        ]})  # fmt: skip
        events.append(wf.phase("Succeeded").event())
    await ingest(pool, settings, events)
    await index_everything(pool, settings)

    states = {tuple(r) for r in await conn.fetch("SELECT uri, state FROM artifacts")}
    assert states == {(f"s3://{bucket}/runs/{run}/{file}", "indexed" if run == "r1" else "forbidden")
                      for _, bucket, run in placed for file in ("model.bin", "metrics.tgz")}  # fmt: skip
    # Each readable repository's metrics file was read (a GET) with its own key pair.
    assert await conn.fetchval("SELECT count(*) FROM metrics WHERE name = 'accuracy'") == len(READABLE)
    errors = [r["error"] for r in await conn.fetch("SELECT error FROM artifacts WHERE error IS NOT NULL")]
    assert errors and all("403" in e for e in errors)
    stored = caplog.text + json.dumps(errors) + repr(settings)
    assert not any(secret in stored for secret in repositories.secrets())
