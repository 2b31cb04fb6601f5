"""Fixtures for the plugin module tests: a REAL OpenSSH sshd and a REAL moto server.

When the local stack is up (`<repo>/.local-stack/state.json`, or $MWAA_LOCAL_HOME/state.json),
the main `ssh_target` and `moto` fixtures use its sshd and moto. Otherwise the suite starts its
own: `/usr/sbin/sshd` on 127.0.0.1:<free port> with generated keys, and moto's ThreadedMotoServer.
A private sshd (`own_sshd`) is always started too, for tests that need keys authorised on the
server (several key types) which the shared stack must not be changed for.

Every test runs with all loggers at DEBUG, and afterwards no log record may contain key
material or a registered secret value (`sensitive` fixture).
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from plugin_testlib import find_leaks, free_port, keygen, register_sensitive, wait_for_port

REPO = Path(__file__).resolve().parents[3]
PLUGINS_DIR = REPO / "templates" / "plugins"
if str(PLUGINS_DIR) not in sys.path:
    sys.path.insert(0, str(PLUGINS_DIR))

SSHD = "/usr/sbin/sshd"
REGION = "us-east-1"

# --------------------------------------------------------------------------- sshd


@dataclass
class SSHTarget:
    host: str
    port: int
    user: str
    host_public_key: str
    client_key_text: str
    client_pub_path: Path | None
    sshd_log: Path
    source: str  # "local-stack" or "own-sshd"
    extra_keys: dict[str, str] = field(default_factory=dict)  # authorised extra client keys by name
    host_keys: dict[str, str] = field(default_factory=dict)  # all host public keys by type (own sshd)

    def log_text(self) -> str:
        return self.sshd_log.read_text(errors="replace") if self.sshd_log.exists() else ""

    def wait_for_log(self, pattern: str, count: int, *, since: int = 0, timeout: float = 5.0) -> list[str]:
        """Lines of the sshd log after byte offset `since` matching `pattern`, waiting for `count`."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            text = self.log_text()[since:]
            found = [ln for ln in text.splitlines() if rx.search(ln)]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.05)


def _local_stack_state() -> dict | None:
    root = Path(os.environ.get("MWAA_LOCAL_HOME") or REPO / ".local-stack")
    path = root / "state.json"
    if not path.exists():
        return None
    state = json.loads(path.read_text())
    if state.get("formatVersion") != 1:
        raise RuntimeError(f"{path}: unsupported formatVersion {state.get('formatVersion')!r}")
    return state


@pytest.fixture(scope="session")
def local_stack_state() -> dict | None:
    return _local_stack_state()


def _start_sshd(base: Path) -> tuple[subprocess.Popen, SSHTarget]:
    base.mkdir(parents=True, exist_ok=True)
    os.chmod(base, 0o700)
    user = getpass.getuser()
    host_key = base / "host_ed25519"
    keygen(host_key, "ed25519")
    # Real servers offer several host key types; the client must negotiate the pinned one.
    keygen(base / "host_ecdsa", "ecdsa", bits=256)
    keygen(base / "host_rsa", "rsa", bits=3072)
    client_key = base / "client_ed25519"
    client_text = keygen(client_key, "ed25519")
    extra = {
        "ecdsa": keygen(base / "client_ecdsa", "ecdsa", bits=256),
        "rsa": keygen(base / "client_rsa", "rsa", bits=3072, fmt="PEM"),
    }
    authorized = base / "authorized_keys"
    authorized.write_text("".join((base / f"client_{n}.pub").read_text() for n in ("ed25519", "ecdsa", "rsa")))
    port = free_port()
    log_path = base / "sshd.log"
    config = base / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"Port {port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {host_key}",
                f"HostKey {base / 'host_ecdsa'}",
                f"HostKey {base / 'host_rsa'}",
                f"PidFile {base / 'sshd.pid'}",
                f"AuthorizedKeysFile {authorized}",
                "StrictModes no",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "UsePAM no",
                "PermitRootLogin prohibit-password",
                f"AllowUsers {user}",
                "LogLevel VERBOSE",
                "MaxStartups 50:30:100",
                "MaxSessions 50",
                "Subsystem sftp internal-sftp",
                "",
            ]
        )
    )
    Path("/run/sshd").mkdir(parents=True, exist_ok=True)
    # -D keeps sshd in the foreground so this process owns and stops it; -E writes the log we read.
    proc = subprocess.Popen([SSHD, "-D", "-f", str(config), "-E", str(log_path)], stdin=subprocess.DEVNULL)
    wait_for_port(port, proc, log_path)
    target = SSHTarget(
        host="127.0.0.1",
        port=port,
        user=user,
        host_public_key=(base / "host_ed25519.pub").read_text().strip(),
        client_key_text=client_text,
        client_pub_path=client_key.with_suffix(".pub"),
        sshd_log=log_path,
        source="own-sshd",
        extra_keys=extra,
        host_keys={n: (base / f"host_{n}.pub").read_text().strip() for n in ("ed25519", "ecdsa", "rsa")},
    )
    return proc, target


@pytest.fixture(scope="session")
def own_sshd(tmp_path_factory) -> Iterator[SSHTarget]:
    """An sshd started by this suite (always), with ed25519, ecdsa and rsa client keys authorised."""
    proc, target = _start_sshd(tmp_path_factory.mktemp("sshd"))
    yield target
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def ssh_target(local_stack_state, request) -> SSHTarget:
    """The local stack's sshd when the stack is up, else this suite's own."""
    if local_stack_state is None:
        return request.getfixturevalue("own_sshd")
    ssh = local_stack_state["ssh"]
    key_path = Path(ssh["clientKeyPath"])
    key_text = key_path.read_text()
    register_sensitive(key_text)
    pub = key_path.with_name(key_path.name + ".pub")
    return SSHTarget(
        host=ssh["host"],
        port=int(ssh["port"]),
        user=ssh["user"],
        host_public_key=ssh["hostPublicKey"].strip(),
        client_key_text=key_text,
        client_pub_path=pub if pub.exists() else None,
        sshd_log=Path(ssh["sshdLog"]),
        source="local-stack",
    )


@pytest.fixture
def ssh_client(ssh_target):
    import gpu_ssh_utils

    client = gpu_ssh_utils.GpuSSHClient(
        ssh_target.host,
        ssh_target.port,
        ssh_target.user,
        ssh_target.client_key_text,
        ssh_target.host_public_key,
        connect_timeout=10,
        command_timeout=30,
        retries=1,
        backoff_seconds=0.1,
    )
    with client:
        yield client


@pytest.fixture(scope="session")
def shared_ssh(ssh_target):
    """One connection for the whole session, for tests that run many cheap commands."""
    import gpu_ssh_utils

    client = gpu_ssh_utils.GpuSSHClient(
        ssh_target.host,
        ssh_target.port,
        ssh_target.user,
        ssh_target.client_key_text,
        ssh_target.host_public_key,
        command_timeout=30,
    )
    with client:
        yield client


@pytest.fixture
def remote_tmp(ssh_client) -> Iterator[str]:
    """A fresh directory on the SSH server (made over SSH, so it works for a remote stack user too)."""
    path = ssh_client.run(["mktemp", "-d", "/tmp/gpu-ssh-utils-test.XXXXXXXX"]).stdout.strip()
    assert path.startswith("/tmp/gpu-ssh-utils-test."), path
    yield path
    if ssh_client.is_connected:
        ssh_client.run(["rm", "-rf", "--", path], check=False)


# --------------------------------------------------------------------------- moto


@dataclass
class MotoTarget:
    endpoint: str
    region: str
    source: str
    stack_secret_arn: str | None


@pytest.fixture(scope="session")
def moto(local_stack_state) -> Iterator[MotoTarget]:
    # Dummy credentials for every boto3 client the tests (and the module under test) create.
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    server = None
    try:
        if local_stack_state is not None:
            yield MotoTarget(
                endpoint=local_stack_state["endpoints"]["secretsManager"],
                region=local_stack_state.get("region", REGION),
                source="local-stack",
                stack_secret_arn=local_stack_state.get("secretArn"),
            )
            return
        from moto.server import ThreadedMotoServer

        port = free_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        wait_for_port(port, None, None)
        yield MotoTarget(endpoint=f"http://127.0.0.1:{port}", region=REGION, source="own-moto", stack_secret_arn=None)
    finally:
        if server is not None:
            server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="session")
def sm_client(moto):
    import boto3

    return boto3.client(
        "secretsmanager",
        endpoint_url=moto.endpoint,
        region_name=moto.region,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


@pytest.fixture(scope="session")
def ssh_key_secret_arn(moto, sm_client, ssh_target) -> str:
    """The secret `gpu-server-ssh-key`: the stack's, or one this suite creates the same way."""
    if moto.stack_secret_arn:
        return moto.stack_secret_arn
    response = sm_client.create_secret(Name="gpu-server-ssh-key", SecretString=ssh_target.client_key_text)
    return response["ARN"]


@pytest.fixture(autouse=True)
def _fresh_module_caches():
    """Module-level caches must not leak between tests."""
    yield
    if "aws_secrets_utils" in sys.modules:
        sys.modules["aws_secrets_utils"].clear_cache()
    if "gpu_ssh_utils" in sys.modules:
        sys.modules["gpu_ssh_utils"].close_cached_clients()


# --------------------------------------------------------------------------- log hygiene


@pytest.fixture
def sensitive():
    """Register a secret string that must not appear in any log record of this test."""
    return register_sensitive


@pytest.fixture(autouse=True)
def _no_key_material_in_logs(caplog) -> Iterator[None]:
    caplog.set_level(logging.DEBUG)
    yield
    records = [r for when in ("setup", "call", "teardown") for r in caplog.get_records(when)]
    offenders = find_leaks(records)
    assert not offenders, "key material or a secret value reached the logs:\n" + "\n".join(offenders)
