"""AWS Secrets Manager access for the gpu_server_cicd_workflow DAG.

Shipped in plugins.zip and imported by tasks as ``import aws_secrets_utils``. boto3 is imported
and the client created only when first needed, so importing this module is cheap. boto3 itself
honours AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_SECRETS_MANAGER, which is how the local stack points
tasks at its Secrets Manager emulator without code changes.

Secret values never reach a log record or an exception message; neither does AWS's raw error
text, which can echo request parameters.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = [
    "SecretsError",
    "clear_cache",
    "create_or_update_secret",
    "get_secret",
    "is_secrets_manager_arn",
    "region_from_arn",
]

log = logging.getLogger("aws_secrets_utils")

_ARN_RE = re.compile(
    r"arn:aws(?:-[a-z]+)*:secretsmanager:(?P<region>[a-z]{2,4}(?:-[a-z]+)+-\d{1,2}):\d{12}"
    r":secret:[A-Za-z0-9/_+=.@-]{1,512}"
)
_RETRYABLE_CODES = frozenset(
    {"ThrottlingException", "Throttling", "TooManyRequestsException", "InternalServiceError", "InternalFailure"}
)


class SecretsError(Exception):
    """A secret could not be read or written. ``code`` is the AWS error code or one of ours."""

    def __init__(
        self,
        message: str,
        *,
        code: str,
        secret_id: str | None = None,
        retryable: bool = False,
        request_id: str | None = None,
    ):
        super().__init__(message)
        self.code = code
        self.secret_id = secret_id
        self.retryable = retryable
        self.request_id = request_id


def is_secrets_manager_arn(value: object) -> bool:
    """True for a Secrets Manager secret ARN (full, with the random suffix, or partial)."""
    return isinstance(value, str) and _ARN_RE.fullmatch(value) is not None


def region_from_arn(arn: str) -> str | None:
    match = _ARN_RE.fullmatch(arn) if isinstance(arn, str) else None
    return match.group("region") if match else None


# --------------------------------------------------------------------------- botocore log hygiene


class _RedactSecretValues(logging.Filter):
    """botocore logs whole request and response bodies at DEBUG (loggers botocore.endpoint and
    botocore.parsers); for Secrets Manager those bodies hold secret values. With Airflow's log
    level at DEBUG they would land in the task log, so such records are redacted."""

    _MARKERS = ("SecretString", "SecretBinary")
    _REDACTED = "[body redacted by aws_secrets_utils: it carried a Secrets Manager secret value]"

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # a malformed record is not ours to judge
            return True
        if any(marker in text for marker in self._MARKERS):
            record.msg = self._REDACTED
            record.args = None
        return True


def _protect_botocore_logs() -> None:
    for name in ("botocore.endpoint", "botocore.parsers"):
        logger = logging.getLogger(name)
        if not any(type(f).__name__ == _RedactSecretValues.__name__ for f in logger.filters):
            logger.addFilter(_RedactSecretValues())


# Cheap (no botocore import) and must also cover clients the caller creates, so done at import.
_protect_botocore_logs()


# --------------------------------------------------------------------------- clients & cache

_lock = threading.Lock()
_clients: dict[str | None, Any] = {}
_cache: dict[tuple[str, str | None], tuple[float, str]] = {}


def clear_cache() -> None:
    """Forget cached secret values (and nothing else)."""
    with _lock:
        _cache.clear()


def _client_for(region: str | None) -> Any:
    with _lock:
        client = _clients.get(region)
        if client is None:
            import boto3
            from botocore.config import Config

            client = boto3.client(
                "secretsmanager",
                region_name=region,
                config=Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=10, read_timeout=30),
            )
            _clients[region] = client
        return client


def _resolve_client(client: Any, secret_id: str, region: str | None) -> Any:
    if client is not None:
        return client
    try:
        return _client_for(region or region_from_arn(secret_id))
    except Exception as exc:  # botocore.exceptions.NoRegionError and friends
        if type(exc).__name__ == "NoRegionError":
            raise SecretsError(
                f"No AWS region for secret {secret_id}: pass a full secret ARN or set AWS_DEFAULT_REGION.",
                code="NoRegion",
                secret_id=secret_id,
            ) from None
        raise


# --------------------------------------------------------------------------- error mapping


def _advice(code: str, secret_id: str, operation: str) -> str:
    if code == "ResourceNotFoundException":
        return (
            f"Secret {secret_id} was not found. Check the name/ARN and the region (the ARN's region "
            "must match), and that it is not deleted."
        )
    if code == "AccessDeniedException":
        action = "secretsmanager:GetSecretValue" if operation == "GetSecretValue" else f"secretsmanager:{operation}"
        return (
            f"Access denied to secret {secret_id} ({operation}). Grant {action} on this secret to the "
            "MWAA execution role (plus kms:Decrypt if a customer managed KMS key encrypts it)."
        )
    if code == "DecryptionFailure":
        return (
            f"Secrets Manager could not decrypt secret {secret_id} with its KMS key. Grant kms:Decrypt on "
            "that key to the MWAA execution role and check that the key is enabled."
        )
    if code == "InvalidRequestException":
        return (
            f"Secrets Manager refused {operation} on {secret_id} in its current state (for example it is "
            "scheduled for deletion: restore it with `aws secretsmanager restore-secret`)."
        )
    if code == "InvalidParameterException":
        return (
            f"Secrets Manager rejected a parameter of {operation} for {secret_id}: check the secret id, "
            "version stage and value format."
        )
    if code in _RETRYABLE_CODES:
        return (
            f"Secrets Manager throttled or failed {operation} on {secret_id} ({code}) after retries; try again later."
        )
    if code == "ResourceExistsException":
        return f"Secret {secret_id} already exists."
    if code == "LimitExceededException":
        return f"Secrets Manager limit exceeded for {secret_id}: the value may be too large (max 64 KiB)."
    return f"Secrets Manager {operation} on {secret_id} failed with {code}."


def _map_error(exc: Exception, secret_id: str, operation: str) -> SecretsError:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error") or {}
        code = str(error.get("Code") or "Unknown")
        request_id = (response.get("ResponseMetadata") or {}).get("RequestId")
        message = _advice(code, secret_id, operation)
        if request_id:
            message += f" (request id {request_id})"
        return SecretsError(
            message, code=code, secret_id=secret_id, retryable=code in _RETRYABLE_CODES, request_id=request_id
        )
    name = type(exc).__name__
    if name in ("NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError"):
        return SecretsError(
            f"No usable AWS credentials to read secret {secret_id}: the MWAA execution role (or "
            "AWS_* variables locally) must provide them.",
            code="NoCredentials",
            secret_id=secret_id,
        )
    if name in ("EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError", "ConnectionClosedError"):
        return SecretsError(
            f"Cannot reach the Secrets Manager endpoint for {secret_id} ({name}). From a private MWAA "
            "network, add a Secrets Manager VPC endpoint or a NAT route.",
            code="EndpointUnreachable",
            secret_id=secret_id,
            retryable=True,
        )
    return SecretsError(f"{operation} on {secret_id} failed ({name}).", code=name, secret_id=secret_id)


def _is_aws_error(exc: Exception) -> bool:
    try:
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:  # a stub client without botocore installed
        return hasattr(exc, "response")
    return isinstance(exc, (ClientError, BotoCoreError)) or hasattr(exc, "response")


def _call(
    fn: Callable[..., Any],
    kwargs: dict[str, Any],
    *,
    secret_id: str,
    operation: str,
    retries: int,
    sleep: Callable[[float], None],
) -> Any:
    attempt = 0
    while True:
        try:
            return fn(**kwargs)
        except Exception as exc:
            if not _is_aws_error(exc):
                raise
            error = _map_error(exc, secret_id, operation)
        if error.retryable and attempt < retries:
            delay = 0.5 * (2**attempt)
            attempt += 1
            log.warning(
                "%s on %s failed with %s; retry %d/%d in %.1fs",
                operation,
                secret_id,
                error.code,
                attempt,
                retries,
                delay,
            )
            sleep(delay)
            continue
        raise error


# --------------------------------------------------------------------------- get


def _extract(secret_id: str, response: dict[str, Any], json_field: str | None) -> str:
    if response.get("SecretString") is not None:
        text = response["SecretString"]
    elif response.get("SecretBinary") is not None:
        raw = response["SecretBinary"]
        try:
            text = bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            raise SecretsError(
                f"Secret {secret_id} holds binary data that is not UTF-8 text: store the key as text.",
                code="BinaryNotUtf8",
                secret_id=secret_id,
            ) from None
    else:
        raise SecretsError(f"Secret {secret_id} has no value.", code="EmptySecret", secret_id=secret_id)
    if json_field is None:
        if not text.strip():
            raise SecretsError(f"Secret {secret_id} is empty.", code="EmptySecret", secret_id=secret_id)
        return text
    try:
        document = json.loads(text)
    except ValueError:
        raise SecretsError(
            f"Secret {secret_id} is not JSON, so field {json_field!r} cannot be read: store a JSON object, "
            "or read the secret without a JSON field (secrets.sshKeyJsonField: null).",
            code="NotJson",
            secret_id=secret_id,
        ) from None
    if not isinstance(document, dict):
        raise SecretsError(
            f"Secret {secret_id} is JSON but not an object, so field {json_field!r} cannot be read.",
            code="NotJson",
            secret_id=secret_id,
        )
    if json_field not in document:
        # The other fields' names are not shown: they describe a secret the reader may not own.
        raise SecretsError(
            f"Secret {secret_id} has no JSON field {json_field!r} ({len(document)} fields); "
            "check secrets.sshKeyJsonField.",
            code="MissingJsonField",
            secret_id=secret_id,
        )
    value = document[json_field]
    if not isinstance(value, str):
        raise SecretsError(
            f"JSON field {json_field!r} of secret {secret_id} is a {type(value).__name__}, not a string.",
            code="JsonFieldNotString",
            secret_id=secret_id,
        )
    if not value.strip():
        raise SecretsError(
            f"JSON field {json_field!r} of secret {secret_id} is empty.", code="EmptySecret", secret_id=secret_id
        )
    return value


def get_secret(
    secret_id: str,
    *,
    json_field: str | None = None,
    region: str | None = None,
    client: Any = None,
    ttl_seconds: float = 300,
    now: Callable[[], float] = time.monotonic,
    retries: int = 3,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Return a secret's text (or one field of its JSON), cached in-process for ttl_seconds."""
    if not isinstance(secret_id, str) or not secret_id.strip():
        raise SecretsError("A secret name or ARN is required.", code="InvalidSecretId", secret_id=str(secret_id))
    cache_key = (secret_id, json_field)
    if ttl_seconds > 0:
        with _lock:
            hit = _cache.get(cache_key)
        if hit is not None and now() < hit[0]:
            log.info("secret %s served from the in-process cache", secret_id)
            return hit[1]
    sm = _resolve_client(client, secret_id, region)
    response = _call(
        sm.get_secret_value,
        {"SecretId": secret_id},
        secret_id=secret_id,
        operation="GetSecretValue",
        retries=retries,
        sleep=sleep,
    )
    value = _extract(secret_id, response, json_field)
    if ttl_seconds > 0:
        with _lock:
            _cache[cache_key] = (now() + ttl_seconds, value)
    log.info(
        "read secret %s%s (version %s)",
        secret_id,
        f" field {json_field!r}" if json_field else "",
        response.get("VersionId", "?"),
    )
    return value


# --------------------------------------------------------------------------- create / update


def create_or_update_secret(
    name: str,
    value: str | bytes,
    *,
    description: str | None = None,
    client: Any = None,
    region: str | None = None,
    retries: int = 3,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Create the secret, or store a new value in it if it exists; return its ARN."""
    if not isinstance(name, str) or not name.strip():
        raise SecretsError("A secret name is required.", code="InvalidSecretId", secret_id=str(name))
    if not isinstance(value, (str, bytes)) or len(value) == 0:
        raise SecretsError(f"Refusing to store an empty value in secret {name}.", code="EmptySecret", secret_id=name)
    payload = {"SecretString": value} if isinstance(value, str) else {"SecretBinary": value}
    sm = _resolve_client(client, name, region)
    create_args: dict[str, Any] = {"Name": name, **payload}
    if description is not None:
        create_args["Description"] = description
    try:
        response = _call(
            sm.create_secret, create_args, secret_id=name, operation="CreateSecret", retries=retries, sleep=sleep
        )
        action = "created"
    except SecretsError as error:
        if error.code != "ResourceExistsException":
            raise
        response = _call(
            sm.put_secret_value,
            {"SecretId": name, **payload},
            secret_id=name,
            operation="PutSecretValue",
            retries=retries,
            sleep=sleep,
        )
        if description is not None:
            _call(
                sm.update_secret,
                {"SecretId": name, "Description": description},
                secret_id=name,
                operation="UpdateSecret",
                retries=retries,
                sleep=sleep,
            )
        action = "updated"
    arn = response["ARN"]
    with _lock:
        for key in [k for k in _cache if k[0] in (name, arn)]:
            del _cache[key]
    log.info("%s secret %s (version %s)", action, arn, response.get("VersionId", "?"))
    return arn
