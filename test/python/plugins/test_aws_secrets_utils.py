"""aws_secrets_utils against a real moto server (plus a botocore Stubber where moto cannot fail)."""

from __future__ import annotations

import uuid

import boto3
import pytest
from botocore.stub import Stubber
from plugin_testlib import free_port, keygen

import aws_secrets_utils
from aws_secrets_utils import (
    SecretsError,
    create_or_update_secret,
    get_secret,
    is_secrets_manager_arn,
    region_from_arn,
)

ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:gpu-server-ssh-key-AbCdEf"


def unique(prefix: str) -> str:
    return f"test-{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def pem(tmp_path) -> str:
    return keygen(tmp_path / "k", "ed25519")


@pytest.fixture
def new_name(sm_client):
    """Unique secret names, force-deleted afterwards (the local stack's moto is shared)."""
    names: list[str] = []

    def make(prefix: str = "secret") -> str:
        names.append(unique(prefix))
        return names[-1]

    yield make
    for name in names:
        try:
            sm_client.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
        except sm_client.exceptions.ResourceNotFoundException:
            pass


@pytest.fixture
def new_secret(sm_client, sensitive, new_name):
    """Create a secret in moto; returns its ARN. The value is registered as sensitive."""

    def make(value: str | bytes, name: str | None = None) -> str:
        name = name or new_name()
        if isinstance(value, str):
            sensitive(value)
            response = sm_client.create_secret(Name=name, SecretString=value)
        else:
            response = sm_client.create_secret(Name=name, SecretBinary=value)
        return response["ARN"]

    return make


class CountingClient:
    """Wraps a real client to count GetSecretValue calls (for the cache tests)."""

    def __init__(self, client):
        self.client = client
        self.calls = 0

    def get_secret_value(self, **kwargs):
        self.calls += 1
        return self.client.get_secret_value(**kwargs)


def stubbed_client():
    client = boto3.client(
        "secretsmanager", region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )
    return client, Stubber(client)


# --------------------------------------------------------------------------- secret forms


class TestSecretForms:
    def test_string_pem(self, sm_client, new_secret, pem):
        arn = new_secret(pem)
        assert get_secret(arn, client=sm_client) == pem

    def test_binary(self, sm_client, new_secret, pem):
        arn = new_secret(pem.encode())
        assert get_secret(arn, client=sm_client) == pem

    def test_json_field(self, sm_client, new_secret, pem, sensitive):
        import json

        document = json.dumps({"private_key": pem, "user": "ubuntu"})
        sensitive(document)
        arn = new_secret(document)
        assert get_secret(arn, json_field="private_key", client=sm_client) == pem
        assert get_secret(arn, json_field="user", client=sm_client) == "ubuntu"

    def test_json_field_in_binary_secret(self, sm_client, new_secret, pem):
        import json

        arn = new_secret(json.dumps({"k": pem}).encode())
        assert get_secret(arn, json_field="k", client=sm_client) == pem

    def test_by_name(self, sm_client, new_secret, new_name):
        name = new_name("byname")
        new_secret("value-by-name-123", name=name)
        assert get_secret(name, client=sm_client) == "value-by-name-123"

    def test_missing_json_field_names_neither_the_fields_nor_their_values(self, sm_client, new_secret, sensitive):
        sensitive("v-alpha-000111")
        arn = new_secret('{"alpha-field-name": "v-alpha-000111", "beta-field-name": "v-beta-000222"}')
        with pytest.raises(SecretsError) as info:
            get_secret(arn, json_field="private_key", client=sm_client)
        err = info.value
        assert err.code == "MissingJsonField" and err.secret_id == arn
        assert "'private_key'" in str(err) and "2 fields" in str(err)
        assert "field-name" not in str(err)
        assert "v-alpha" not in str(err) and "v-beta" not in str(err)

    def test_not_json(self, sm_client, new_secret, pem):
        arn = new_secret(pem)
        with pytest.raises(SecretsError) as info:
            get_secret(arn, json_field="private_key", client=sm_client)
        assert info.value.code == "NotJson"
        assert "sshKeyJsonField" in str(info.value)
        assert "PRIVATE KEY" not in str(info.value)

    def test_json_but_not_an_object(self, sm_client, new_secret):
        arn = new_secret('["just-a-list-value"]')
        with pytest.raises(SecretsError) as info:
            get_secret(arn, json_field="k", client=sm_client)
        assert info.value.code == "NotJson" and "just-a-list" not in str(info.value)

    def test_json_field_not_a_string(self, sm_client, new_secret):
        arn = new_secret('{"k": {"nested": "nested-value-77"}}')
        with pytest.raises(SecretsError) as info:
            get_secret(arn, json_field="k", client=sm_client)
        assert info.value.code == "JsonFieldNotString" and "nested-value" not in str(info.value)

    def test_binary_that_is_not_text(self, sm_client, new_secret):
        arn = new_secret(b"\xff\xfe\x00binary")
        with pytest.raises(SecretsError) as info:
            get_secret(arn, client=sm_client)
        assert info.value.code == "BinaryNotUtf8"

    def test_blank_secret(self, sm_client, new_secret):
        arn = new_secret("   ")
        with pytest.raises(SecretsError) as info:
            get_secret(arn, client=sm_client)
        assert info.value.code == "EmptySecret"

    @pytest.mark.parametrize("bad", ["", "   ", None])
    def test_secret_id_required(self, bad):
        with pytest.raises(SecretsError) as info:
            get_secret(bad)  # type: ignore[arg-type]
        assert info.value.code == "InvalidSecretId"


# --------------------------------------------------------------------------- AWS errors


class TestAwsErrors:
    def test_not_found(self, sm_client, moto):
        missing = f"arn:aws:secretsmanager:{moto.region}:123456789012:secret:{unique('missing')}-AbCdEf"
        with pytest.raises(SecretsError) as info:
            get_secret(missing, client=sm_client)
        err = info.value
        assert err.code == "ResourceNotFoundException" and not err.retryable
        assert "was not found" in str(err) and "region" in str(err)
        assert err.__cause__ is None and err.__context__ is None

    def test_scheduled_for_deletion(self, sm_client, new_secret):
        arn = new_secret("soon-deleted-value-1")
        sm_client.delete_secret(SecretId=arn, RecoveryWindowInDays=7)
        with pytest.raises(SecretsError) as info:
            get_secret(arn, client=sm_client)
        assert info.value.code == "InvalidRequestException"
        assert "restore-secret" in str(info.value)

    @pytest.mark.parametrize(
        ("code", "advice"),
        [
            ("AccessDeniedException", "Grant secretsmanager:GetSecretValue on this secret to the MWAA execution role"),
            ("DecryptionFailure", "Grant kms:Decrypt"),
            ("InvalidParameterException", "rejected a parameter"),
        ],
    )
    def test_errors_moto_cannot_produce(self, code, advice):
        client, stubber = stubbed_client()
        # AWS's own message can echo request data: it must not be copied into ours.
        stubber.add_client_error(
            "get_secret_value",
            service_error_code=code,
            service_message="aws-raw-message-must-not-leak",
            http_status_code=400,
            expected_params={"SecretId": ARN},
            response_meta={"RequestId": "req-1234"},
        )
        with stubber, pytest.raises(SecretsError) as info:
            get_secret(ARN, client=client)
        err = info.value
        assert err.code == code and err.secret_id == ARN and err.request_id == "req-1234"
        assert advice in str(err) and "req-1234" in str(err)
        assert "aws-raw-message-must-not-leak" not in str(err)
        assert err.__cause__ is None and err.__context__ is None

    def test_throttling_is_retried(self, sensitive):
        client, stubber = stubbed_client()
        for _ in range(2):
            stubber.add_client_error("get_secret_value", service_error_code="ThrottlingException", http_status_code=400)
        sensitive("value-after-throttling")
        stubber.add_response(
            "get_secret_value", {"ARN": ARN, "Name": "n", "SecretString": "value-after-throttling"}, {"SecretId": ARN}
        )
        sleeps: list[float] = []
        with stubber:
            assert get_secret(ARN, client=client, sleep=sleeps.append) == "value-after-throttling"
            stubber.assert_no_pending_responses()
        assert sleeps == [0.5, 1.0]

    def test_throttling_gives_up(self):
        client, stubber = stubbed_client()
        for _ in range(3):
            stubber.add_client_error("get_secret_value", service_error_code="ThrottlingException", http_status_code=400)
        sleeps: list[float] = []
        with stubber, pytest.raises(SecretsError) as info:
            get_secret(ARN, client=client, retries=2, sleep=sleeps.append)
        assert info.value.code == "ThrottlingException" and info.value.retryable
        assert sleeps == [0.5, 1.0] and "try again later" in str(info.value)

    def test_access_denied_is_not_retried(self):
        client, stubber = stubbed_client()
        stubber.add_client_error("get_secret_value", service_error_code="AccessDeniedException", http_status_code=400)
        sleeps: list[float] = []
        with stubber, pytest.raises(SecretsError):
            get_secret(ARN, client=client, sleep=sleeps.append)
        assert sleeps == []


# --------------------------------------------------------------------------- cache


class TestCache:
    def test_ttl_cache_with_injected_clock(self, sm_client, new_secret):
        arn = new_secret("cached-value-v1")
        counting = CountingClient(sm_client)
        now = [100.0]

        def read(**kw):
            return get_secret(arn, client=counting, ttl_seconds=60, now=lambda: now[0], **kw)

        assert read() == "cached-value-v1"
        sm_client.put_secret_value(SecretId=arn, SecretString="cached-value-v2")
        now[0] += 59
        assert read() == "cached-value-v1" and counting.calls == 1  # still fresh
        now[0] += 2
        assert read() == "cached-value-v2" and counting.calls == 2  # expired: read again

    def test_cache_is_keyed_by_field(self, sm_client, new_secret):
        arn = new_secret('{"a": "field-a-value", "b": "field-b-value"}')
        counting = CountingClient(sm_client)
        assert get_secret(arn, json_field="a", client=counting) == "field-a-value"
        assert get_secret(arn, json_field="b", client=counting) == "field-b-value"
        assert get_secret(arn, json_field="a", client=counting) == "field-a-value"
        assert counting.calls == 2

    def test_ttl_zero_disables_the_cache(self, sm_client, new_secret):
        arn = new_secret("uncached-value-1")
        counting = CountingClient(sm_client)
        for _ in range(3):
            get_secret(arn, client=counting, ttl_seconds=0)
        assert counting.calls == 3

    def test_errors_are_not_cached(self, sm_client, new_secret):
        arn = new_secret("not-json-value-1")
        counting = CountingClient(sm_client)
        for _ in range(2):
            with pytest.raises(SecretsError):
                get_secret(arn, json_field="x", client=counting)
        assert counting.calls == 2


# --------------------------------------------------------------------------- create / update


class TestCreateOrUpdate:
    def test_create_then_update(self, sm_client, sensitive, new_name):
        name = new_name("cou")
        sensitive("first-value-123")
        sensitive("second-value-456")
        arn = create_or_update_secret(name, "first-value-123", description="d1", client=sm_client)
        assert is_secrets_manager_arn(arn)
        assert get_secret(name, client=sm_client) == "first-value-123"
        assert create_or_update_secret(name, "second-value-456", description="d2", client=sm_client) == arn
        # the update also dropped the cached first value
        assert get_secret(name, client=sm_client) == "second-value-456"
        assert sm_client.describe_secret(SecretId=arn)["Description"] == "d2"

    def test_binary_value(self, sm_client, new_name):
        name = new_name("bin")
        create_or_update_secret(name, b"binary-value", client=sm_client)
        assert sm_client.get_secret_value(SecretId=name)["SecretBinary"] == b"binary-value"

    def test_empty_value_is_refused(self, sm_client, new_name):
        with pytest.raises(SecretsError) as info:
            create_or_update_secret(new_name("empty"), "", client=sm_client)
        assert info.value.code == "EmptySecret"

    def test_update_of_deleted_secret_says_restore(self):
        # moto lets a secret scheduled for deletion take new values; AWS answers InvalidRequestException.
        client, stubber = stubbed_client()
        stubber.add_client_error("create_secret", service_error_code="ResourceExistsException", http_status_code=400)
        stubber.add_client_error(
            "put_secret_value",
            service_error_code="InvalidRequestException",
            service_message="echoes v-two-2 maybe",
            http_status_code=400,
            expected_params={"SecretId": "gpu-key", "SecretString": "v-two-2"},
        )
        with stubber, pytest.raises(SecretsError) as info:
            create_or_update_secret("gpu-key", "v-two-2", client=client)
        assert info.value.code == "InvalidRequestException" and "PutSecretValue" in str(info.value)
        assert "restore" in str(info.value) and "v-two-2" not in str(info.value)

    def test_botocore_debug_bodies_are_redacted(self, sm_client, caplog, sensitive, new_name):
        sensitive("redact-me-value-999")
        name = new_name("redact")
        create_or_update_secret(name, "redact-me-value-999", client=sm_client)
        assert get_secret(name, client=sm_client, ttl_seconds=0) == "redact-me-value-999"
        redacted = [r for r in caplog.records if "redacted by aws_secrets_utils" in r.getMessage()]
        # request body of CreateSecret and response body of GetSecretValue at least
        assert {r.name for r in redacted} >= {"botocore.endpoint", "botocore.parsers"}


# --------------------------------------------------------------------------- lazily created client


class TestDefaultClient:
    @pytest.fixture
    def fresh_clients(self, monkeypatch):
        # boto3's default session caches resolved credentials: start each test without one.
        monkeypatch.setattr(aws_secrets_utils, "_clients", {})
        monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)

    def test_aws_endpoint_url_is_honoured(self, moto, new_secret, monkeypatch, fresh_clients):
        arn = new_secret("via-endpoint-env-1")
        monkeypatch.setenv("AWS_ENDPOINT_URL", moto.endpoint)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
        monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)  # region comes from the ARN
        monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
        assert get_secret(arn) == "via-endpoint-env-1"
        assert list(aws_secrets_utils._clients) == [moto.region]

    def test_no_credentials(self, moto, monkeypatch, fresh_clients):
        for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
            monkeypatch.delenv(var, raising=False)
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        monkeypatch.setenv("AWS_ENDPOINT_URL", moto.endpoint)
        with pytest.raises(SecretsError) as info:
            get_secret(ARN)
        assert info.value.code == "NoCredentials" and "execution role" in str(info.value)

    def test_unreachable_endpoint(self, monkeypatch, fresh_clients):
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
        with pytest.raises(SecretsError) as info:
            get_secret(ARN, retries=0)
        assert info.value.code == "EndpointUnreachable" and "VPC endpoint" in str(info.value)

    def test_no_region(self, monkeypatch, fresh_clients):
        monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
        monkeypatch.delenv("AWS_REGION", raising=False)
        monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
        with pytest.raises(SecretsError) as info:
            get_secret("plain-name-without-region")
        assert info.value.code == "NoRegion"


# --------------------------------------------------------------------------- ARN helpers


@pytest.mark.parametrize(
    ("value", "ok", "region"),
    [
        (ARN, True, "us-east-1"),
        ("arn:aws:secretsmanager:eu-central-1:123456789012:secret:prod/gpu/key", True, "eu-central-1"),
        ("arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:k-AbCdEf", True, "us-gov-west-1"),
        ("arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:k", True, "cn-north-1"),
        ("arn:aws:secretsmanager:ap-southeast-5:123456789012:secret:a_b+c=d.e@f-AbCdEf", True, "ap-southeast-5"),
        ("gpu-server-ssh-key", False, None),
        ("", False, None),
        ("arn:aws:s3:::bucket", False, None),
        ("arn:aws:secretsmanager:us-east-1:12345:secret:k", False, None),
        ("arn:aws:secretsmanager:us-east-1:123456789012:secret:", False, None),
        ("arn:aws:secretsmanager:us-east-1:123456789012:secret:bad name", False, None),
        ("arn:aws:secretsmanager:useast1:123456789012:secret:k", False, None),
        (" " + ARN, False, None),
        (ARN + "\n", False, None),
        (None, False, None),
    ],
)
def test_arn_validator(value, ok, region):
    assert is_secrets_manager_arn(value) is ok
    assert region_from_arn(value) == region
