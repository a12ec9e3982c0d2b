"""Per-repository S3 credentials: a malformed setting stops start-up naming the setting, never a secret;
the most specific selector wins."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr

from runledger.core.settings import ArtifactsSettings, Settings
from runledger.core.settings_reference import command_help, groups
from runledger.indexer.s3 import AWS_ENDPOINT, Location, ObjectStore, load_credentials

SECRET = "team-a-secret-never-shown-0123"
TOKEN = "team-a-session-token-never-shown"


def pair(access: str = "AKIATEAMA", secret: str = SECRET, **extra: str) -> dict[str, str]:
    return {"access_key_id": access, "secret_access_key": secret, **extra}


def settings_with(text: str) -> ArtifactsSettings:
    return ArtifactsSettings(credentials=SecretStr(text))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"minio.team-a:9000": {"access_key_id": "AKIATEAMA", "secret_access_key": "%s"' % SECRET, "not JSON"),
        (json.dumps({"minio.team-a:9000": {"access_key_id": "AKIATEAMA", "secret": SECRET}}), "secret_access_key"),
        (json.dumps({"minio.team-a:9000": pair(region="us-east-1")}), "region"),
        (json.dumps({"minio.team-a:9000": pair(access="")}), "access_key_id"),
        (json.dumps({"minio.team-a:9000": pair(secret="")}), "secret_access_key"),
        (json.dumps({"minio.team-a:9000": SECRET}), "minio.team-a:9000"),
        (json.dumps([pair()]), "the value"),
        (json.dumps({"minio.team-a:9000/": pair()}), "neither"),
        (json.dumps({" minio.team-a:9000": pair()}), "neither"),
    ],
)
def test_malformed_credentials_are_refused_without_echoing_secrets(text, expected):
    with pytest.raises(ValueError) as raised:
        load_credentials(settings_with(text))
    message = str(raised.value)
    assert expected in message and message.startswith("RUNLEDGER_ARTIFACTS_CREDENTIALS: ")
    assert SECRET not in message


def test_building_the_object_store_validates_them_so_start_up_fails_before_any_request():
    with pytest.raises(ValueError, match="RUNLEDGER_ARTIFACTS_CREDENTIALS: minio.team-a:9000.secret_access_key"):
        ObjectStore(artifacts=settings_with(json.dumps({"minio.team-a:9000": {"access_key_id": "AKIATEAMA"}})))


def test_credentials_are_read_from_a_mounted_file(tmp_path):
    path = tmp_path / "credentials.json"
    path.write_text(json.dumps({"minio.team-a:9000": pair(session_token=TOKEN)}))
    [(selector, credentials)] = load_credentials(ArtifactsSettings(credentials_file=path)).items()
    assert (selector, credentials.access_key, credentials.secret_key, credentials.token) == (
        "minio.team-a:9000", "AKIATEAMA", SECRET, TOKEN,
    )  # fmt: skip
    assert SECRET not in repr(credentials) and TOKEN not in repr(credentials)


def test_an_unreadable_or_malformed_file_is_named_with_its_path(tmp_path):
    missing = tmp_path / "absent.json"
    with pytest.raises(ValueError, match=r"RUNLEDGER_ARTIFACTS_CREDENTIALS_FILE \(.*absent.json\): cannot be read"):
        load_credentials(ArtifactsSettings(credentials_file=missing))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"minio.team-a:9000": pair(role="admin")}))
    with pytest.raises(ValueError) as raised:
        load_credentials(ArtifactsSettings(credentials_file=bad))
    assert "RUNLEDGER_ARTIFACTS_CREDENTIALS_FILE" in str(raised.value) and "role" in str(raised.value)
    assert SECRET not in str(raised.value)


def test_unset_means_no_per_repository_credentials():
    assert load_credentials(ArtifactsSettings()) == {}


def test_the_setting_never_shows_its_value():
    settings = Settings(artifacts=settings_with(json.dumps({"minio.team-a:9000": pair(session_token=TOKEN)})))
    for text in (repr(settings), str(settings), settings.model_dump_json(), command_help(groups=list(groups()))):
        assert SECRET not in text and TOKEN not in text


def test_the_bucket_entry_beats_the_endpoint_entry_and_aws_is_named_by_its_endpoint():
    settings = settings_with(json.dumps({
        "minio.team-a:9000": pair("AKIAENDPOINT"),
        "minio.team-a:9000/models": pair("AKIABUCKET"),
        AWS_ENDPOINT: pair("AKIAAWS"),
        f"{AWS_ENDPOINT}/audit": pair("AKIAAWSAUDIT"),
    }))  # fmt: skip
    store = ObjectStore(artifacts=settings)

    def chosen(endpoint: str | None, bucket: str) -> str | None:
        credentials = store._selected_credentials(Location(bucket=bucket, key="k", endpoint=endpoint))
        return credentials.access_key if credentials is not None else None

    assert chosen("minio.team-a:9000", "models") == "AKIABUCKET"
    assert chosen("minio.team-a:9000", "mlpipeline") == "AKIAENDPOINT"
    assert chosen("minio.team-b:9000", "models") is None  # the global pair or the default chain
    assert chosen(None, "runs") == chosen("", "runs") == chosen(AWS_ENDPOINT, "runs") == "AKIAAWS"
    assert chosen(None, "audit") == "AKIAAWSAUDIT"


def test_selectors_sharing_a_key_pair_share_one_credentials_object():
    same = pair("AKIASHARED")
    store = ObjectStore(artifacts=settings_with(json.dumps({"minio.a:9000": same, "minio.b:9000/x": same})))
    a = store._selected_credentials(Location(bucket="y", key="k", endpoint="minio.a:9000"))
    b = store._selected_credentials(Location(bucket="x", key="k", endpoint="minio.b:9000"))
    assert a is b is not None


def test_runledger_run_refuses_malformed_credentials_at_start_without_echoing_them(monkeypatch, capsys):
    from runledger import cli

    monkeypatch.setenv("RUNLEDGER_ARTIFACTS_CREDENTIALS", '{"minio:9000": {"access_key_id": "AK", "secret_access_key": "s3cr3t-value", "extra": 1}}')
    assert cli.main(["run"]) == 2
    err = capsys.readouterr().err
    assert "RUNLEDGER_ARTIFACTS_CREDENTIALS" in err and "extra" in err and "s3cr3t-value" not in err
