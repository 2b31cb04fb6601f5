"""SSH, the key secret and git on a GPU server, through the plugin modules gpu_ssh_utils and
aws_secrets_utils (plugins.zip), imported inside the functions."""

from __future__ import annotations

from collections.abc import Callable

from .common import log


def ssh_key(secret_arn: str, ssh: dict, fail: Callable[[str], Exception]):
    """The SSH private key the secret holds, loaded (paramiko PKey); the key text stays in memory
    only (short-lived in-process cache in aws_secrets_utils) and is never logged. ssh holds the
    secret's json_field and ttl_seconds."""
    import aws_secrets_utils
    import gpu_ssh_utils

    try:
        key_text = aws_secrets_utils.get_secret(
            secret_arn, json_field=ssh["json_field"], ttl_seconds=ssh["ttl_seconds"]
        )
    except aws_secrets_utils.SecretsError as exc:
        if exc.retryable:
            raise RuntimeError(f"Could not read the SSH key secret: {exc}") from None
        raise fail(f"Could not read the SSH key secret {secret_arn}: {exc}") from None
    try:
        return gpu_ssh_utils.load_private_key(key_text)
    except gpu_ssh_utils.KeyLoadError as exc:
        raise fail(f"The secret {secret_arn} does not hold a usable SSH private key: {exc}") from None


def connect(target: dict, expected_fingerprint: str | None, ssh: dict, fail: Callable[[str], Exception]):
    """One SSH connection for the whole task (every command of the task reuses it). ssh holds the
    key secret's json_field and ttl_seconds and GpuSSHClient's timeouts and retries."""
    import gpu_ssh_utils

    pkey = ssh_key(target["secrets_arn"], ssh, fail)
    fingerprint = gpu_ssh_utils.key_fingerprint(pkey)
    if expected_fingerprint and fingerprint != expected_fingerprint:
        log.warning(
            "The SSH key changed during this run (now %s, retrieve_ssh_key saw %s); using the current key.",
            fingerprint,
            expected_fingerprint,
        )
    if not target["host_public_key"]:
        raise fail(f"No host key is pinned for server {target['name']}; set servers[].hostPublicKey in the config.")
    client = gpu_ssh_utils.GpuSSHClient(
        target["host"],
        target["port"],
        target["user"],
        pkey,
        target["host_public_key"],
        connect_timeout=ssh["connect_timeout"],
        command_timeout=ssh["command_timeout"],
        keepalive_seconds=ssh["keepalive_seconds"],
        retries=ssh["retries"],
    )
    try:
        client.connect()
    except gpu_ssh_utils.SSHConnectError as exc:
        where = f"{target['user']}@{target['host']}:{target['port']} (server {target['name']})"
        if isinstance(exc, gpu_ssh_utils.HostKeyMismatch | gpu_ssh_utils.AuthenticationFailed):
            raise fail(f"SSH to {where} refused: {exc}") from None
        raise RuntimeError(f"SSH to {where} failed: {exc}") from None
    return client


def remote_error(target: dict, what: str, exc: Exception) -> str:
    import gpu_ssh_utils

    if isinstance(exc, gpu_ssh_utils.CommandFailed):
        detail = (exc.stderr_tail or "").strip()[-600:]
        return f"{what} failed on server {target['name']} (exit {exc.exit_code}): {detail}"
    return f"{what} failed on server {target['name']}: {exc}"


def git(ssh, checkout: str | None, *args: str, check: bool = True):
    """Runs git non-interactively; every argument is quoted by gpu_ssh_utils."""
    argv = ["env", "GIT_TERMINAL_PROMPT=0", "LC_ALL=C", "git", "-c", "protocol.ext.allow=never"]
    if checkout is not None:
        argv += ["-C", checkout]
    return ssh.run([*argv, *args], check=check)
