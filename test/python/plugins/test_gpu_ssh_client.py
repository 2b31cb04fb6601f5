"""GpuSSHClient against a real OpenSSH sshd: connect, host key pinning, auth, retries, commands."""

from __future__ import annotations

import json
import logging
import random
import socket
import time

import pytest
from plugin_testlib import free_port, keygen

import gpu_ssh_utils
from gpu_ssh_utils import (
    AuthenticationFailed,
    CommandFailed,
    CommandTimeout,
    GpuSSHClient,
    HostKeyMismatch,
    SSHConnectError,
    key_fingerprint,
    public_key_fingerprint,
)


def make_client(target, **kwargs) -> GpuSSHClient:
    args = {
        "host": target.host,
        "port": target.port,
        "username": target.user,
        "private_key": target.client_key_text,
        "host_public_key": target.host_public_key,
    }
    args.update({k: kwargs.pop(k) for k in list(kwargs) if k in args})
    return GpuSSHClient(**args, **kwargs)


# --------------------------------------------------------------------------- unreachable servers


@pytest.fixture
def silent_listener():
    """Completes the TCP handshake (kernel backlog) but never sends an SSH banner."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield s.getsockname()[1]


@pytest.fixture
def syn_blackhole():
    """A listener whose accept queue is full: the kernel drops further SYNs, so TCP connect times out."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(0)
        port = s.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=2):  # fills the queue of one
            yield port


class TestConnect:
    def test_connects_and_runs_whoami(self, ssh_target):
        with make_client(ssh_target) as client:
            assert client.run(["whoami"]).stdout.strip() == ssh_target.user
            assert client.is_connected
        assert not client.is_connected

    def test_connect_returns_seconds_and_records_metrics(self, ssh_target):
        client = make_client(ssh_target)
        try:
            seconds = client.connect()
            assert 0 < seconds < 30
            assert client.metrics.connect_seconds == seconds
            assert client.metrics.connect_attempts == 1
            assert client.connect() == seconds  # already connected: no second attempt
            assert client.metrics.connect_attempts == 1
            client.run(["true"])
            client.run(["echo", "12345"])
            metrics = client.metrics.to_dict()
            assert metrics["commands_run"] == 2
            assert metrics["stdout_bytes"] == 6
            json.dumps(metrics)  # XCom-safe
        finally:
            client.close()

    def test_one_tcp_connection_serves_every_command_and_sftp(self, ssh_target):
        """Proven from sshd's own log: one accepted connection, N sessions, all from one client port."""
        since = len(ssh_target.log_text())
        client = make_client(ssh_target)
        with client:
            port = client.local_port
            for i in range(5):
                assert client.run(["echo", str(i)]).stdout == f"{i}\n"
            tmp = client.run(["mktemp", "-d"]).stdout.strip()
            client.upload(b"reuse", f"{tmp}/f")
            assert client.download(f"{tmp}/f") == b"reuse"
            client.run(["rm", "-rf", "--", tmp])
        user = ssh_target.user
        sessions = ssh_target.wait_for_log(
            rf"Starting session: command for {user} from [^ ]+ port {port} ", 7, since=since
        )
        accepted = ssh_target.wait_for_log(
            rf"Accepted publickey for {user} from 127\.0\.0\.1 port {port} ", 1, since=since
        )
        connections = ssh_target.wait_for_log(rf"Connection from 127\.0\.0\.1 port {port} ", 1, since=since)
        sftp = ssh_target.wait_for_log(rf"Starting session: subsystem 'sftp' for {user} .*port {port} ", 1, since=since)
        assert (len(connections), len(accepted), len(sessions), len(sftp)) == (1, 1, 7, 1), ssh_target.log_text()[
            since:
        ]
        if ssh_target.source == "own-sshd":  # nobody else uses this sshd: no other connection at all
            all_accepted = ssh_target.wait_for_log(r"Accepted publickey", 1, since=since)
            assert len(all_accepted) == 1

    def test_closed_port_is_retried_with_exponential_backoff(self, ssh_target):
        sleeps: list[float] = []
        client = make_client(
            ssh_target, port=free_port(), retries=3, backoff_seconds=0.25, connect_timeout=2, sleep=sleeps.append
        )
        with pytest.raises(SSHConnectError) as info:
            client.connect()
        err = info.value
        assert type(err) is SSHConnectError
        assert sleeps == [0.25, 0.5, 1.0]
        assert err.attempts == 4 and client.metrics.connect_attempts == 4
        assert err.retryable
        assert "refused" in str(err) and "after 4 attempt(s)" in str(err)

    def test_backoff_really_waits(self, ssh_target):
        client = make_client(ssh_target, port=free_port(), retries=2, backoff_seconds=0.2)
        started = time.monotonic()
        with pytest.raises(SSHConnectError):
            client.connect()
        assert time.monotonic() - started >= 0.6 - 0.01  # 0.2 + 0.4

    def test_silent_server_times_out_on_the_banner(self, ssh_target, silent_listener):
        sleeps: list[float] = []
        client = make_client(
            ssh_target, port=silent_listener, retries=1, connect_timeout=0.5, backoff_seconds=0.1, sleep=sleeps.append
        )
        started = time.monotonic()
        with pytest.raises(SSHConnectError) as info:
            client.connect()
        elapsed = time.monotonic() - started
        assert info.value.attempts == 2 and sleeps == [0.1]
        assert "banner" in str(info.value)
        assert 0.9 <= elapsed < 10

    def test_tcp_blackhole_times_out_connect(self, ssh_target, syn_blackhole):
        sleeps: list[float] = []
        client = make_client(
            ssh_target, port=syn_blackhole, retries=2, connect_timeout=0.4, backoff_seconds=0.05, sleep=sleeps.append
        )
        started = time.monotonic()
        with pytest.raises(SSHConnectError) as info:
            client.connect()
        elapsed = time.monotonic() - started
        assert info.value.attempts == 3 and sleeps == [0.05, 0.1]
        assert "timed out" in str(info.value)
        assert 1.1 <= elapsed < 10

    def test_unauthorised_key_fails_at_once(self, ssh_target, tmp_path):
        stranger = keygen(tmp_path / "stranger", "ed25519")
        sleeps: list[float] = []
        client = make_client(ssh_target, private_key=stranger, retries=3, sleep=sleeps.append)
        with pytest.raises(AuthenticationFailed) as info:
            client.connect()
        message = str(info.value)
        assert sleeps == [] and info.value.attempts == 1 and not info.value.retryable
        assert f"{ssh_target.user}@{ssh_target.host}:{ssh_target.port}" in message
        assert key_fingerprint(stranger) in message
        assert "authorized_keys" in message
        assert isinstance(info.value, SSHConnectError)

    def test_wrong_user_fails_authentication(self, ssh_target):
        client = make_client(ssh_target, username="no-such-user-here", retries=2, sleep=lambda s: None)
        with pytest.raises(AuthenticationFailed):
            client.connect()
        assert client.metrics.connect_attempts == 1


class TestHostKeys:
    def test_pinned_key_mismatch_fails_at_once(self, ssh_target, tmp_path):
        keygen(tmp_path / "other_host", "ed25519")
        other = (tmp_path / "other_host.pub").read_text().strip()
        sleeps: list[float] = []
        client = make_client(ssh_target, host_public_key=other, retries=3, sleep=sleeps.append)
        with pytest.raises(HostKeyMismatch) as info:
            client.connect()
        message = str(info.value)
        assert sleeps == [] and info.value.attempts == 1
        assert public_key_fingerprint(other) in message  # expected
        assert public_key_fingerprint(ssh_target.host_public_key) in message  # presented
        assert not client.is_connected

    @pytest.mark.parametrize("kind", ["ed25519", "ecdsa", "rsa"])
    def test_server_with_several_host_keys_presents_the_pinned_type(self, own_sshd, kind):
        with make_client(own_sshd, host_public_key=own_sshd.host_keys[kind]) as client:
            assert client.run(["true"]).exit_code == 0

    def test_server_without_the_pinned_key_type_is_a_mismatch(self, own_sshd, tmp_path):
        keygen(tmp_path / "p384_host", "ecdsa", bits=384)  # own sshd has nistp256, not nistp384
        other = (tmp_path / "p384_host.pub").read_text().strip()
        sleeps: list[float] = []
        client = make_client(own_sshd, host_public_key=other, retries=2, sleep=sleeps.append)
        with pytest.raises(HostKeyMismatch, match="offers no host key of the pinned type ecdsa-sha2-nistp384"):
            client.connect()
        assert sleeps == []

    def test_pinned_key_of_another_type_is_a_mismatch(self, own_sshd, tmp_path):
        keygen(tmp_path / "ecdsa_host", "ecdsa", bits=256)
        other = (tmp_path / "ecdsa_host.pub").read_text().strip()
        client = make_client(own_sshd, host_public_key=other, sleep=lambda s: None)
        with pytest.raises(HostKeyMismatch, match="ecdsa-sha2-nistp256"):
            client.connect()

    def test_pin_ignores_the_comment(self, ssh_target):
        kind, blob = ssh_target.host_public_key.split()[:2]
        with make_client(ssh_target, host_public_key=f"{kind} {blob} some comment here") as client:
            assert client.run(["true"]).exit_code == 0

    def test_missing_pin_is_refused_unless_allowed(self, ssh_target):
        with pytest.raises(ValueError, match="No host public key pinned"):
            make_client(ssh_target, host_public_key=None)

    def test_allow_unknown_host_connects_with_a_warning(self, ssh_target, caplog):
        with make_client(ssh_target, host_public_key=None, allow_unknown_host=True) as client:
            assert client.run(["whoami"]).stdout.strip() == ssh_target.user
        warnings = [r for r in caplog.records if r.name == "gpu_ssh_utils" and r.levelno == logging.WARNING]
        assert any(
            "UNVERIFIED" in r.getMessage() and public_key_fingerprint(ssh_target.host_public_key) in r.getMessage()
            for r in warnings
        )

    def test_no_known_hosts_files_are_consulted(self, ssh_target, tmp_path, monkeypatch):
        # A HOME whose known_hosts pins a different key must not matter; only the passed pin does.
        keygen(tmp_path / "decoy", "ed25519")
        (tmp_path / ".ssh").mkdir()
        (tmp_path / ".ssh" / "known_hosts").write_text(
            f"[{ssh_target.host}]:{ssh_target.port} {(tmp_path / 'decoy.pub').read_text()}"
        )
        monkeypatch.setenv("HOME", str(tmp_path))
        with make_client(ssh_target) as client:
            assert client.run(["true"]).exit_code == 0


class TestKeyTypes:
    @pytest.mark.parametrize("name", ["ecdsa", "rsa"])
    def test_other_key_types_authenticate(self, own_sshd, name):
        with make_client(own_sshd, private_key=own_sshd.extra_keys[name]) as client:
            assert client.run(["whoami"]).stdout.strip() == own_sshd.user

    def test_accepts_a_loaded_pkey(self, ssh_target):
        pkey = gpu_ssh_utils.load_private_key(ssh_target.client_key_text)
        with make_client(ssh_target, private_key=pkey) as client:
            assert client.run(["true"]).exit_code == 0


class TestRun:
    def test_exit_code_and_streams(self, ssh_client):
        result = ssh_client.run(["sh", "-c", "echo out; echo err >&2; exit 3"], check=False)
        assert (result.exit_code, result.stdout, result.stderr, result.truncated) == (3, "out\n", "err\n", False)
        assert result.duration_seconds > 0
        assert result.to_dict()["command"] == "sh -c 'echo out; echo err >&2; exit 3'"

    def test_command_failed_carries_code_and_stderr_tail(self, ssh_client):
        script = "head -c 10000 /dev/zero | tr '\\0' x >&2; echo THE-END >&2; exit 7"
        with pytest.raises(CommandFailed) as info:
            ssh_client.run(["sh", "-c", script])
        err = info.value
        assert err.exit_code == 7
        assert err.stderr_tail.endswith("THE-END\n") and len(err.stderr_tail) <= 2000
        assert "exited with code 7" in str(err) and "THE-END" in str(err)
        assert err.result.stderr.startswith("xxx")

    def test_string_command_is_sent_verbatim(self, ssh_client):
        assert ssh_client.run("echo $((6 * 7))").stdout == "42\n"

    def test_stdin_is_closed(self, ssh_client):
        result = ssh_client.run(["cat"], timeout=10)
        assert result.stdout == "" and result.exit_code == 0

    def test_large_output_arrives_intact(self, ssh_client):
        result = ssh_client.run(["sh", "-c", "seq 1 150000; seq 1 150000 >&2"], max_output_bytes=4_000_000)
        expected = "".join(f"{i}\n" for i in range(1, 150001))
        assert result.stdout == expected and result.stderr == expected and not result.truncated

    def test_output_is_capped_and_drained(self, ssh_client, caplog):
        before = ssh_client.metrics.stdout_bytes
        result = ssh_client.run(["head", "-c", "3000000", "/dev/zero"], max_output_bytes=1000)
        assert result.truncated and result.exit_code == 0
        assert result.stdout_bytes == b"\0" * 1000
        assert ssh_client.metrics.stdout_bytes - before == 3_000_000
        assert any("truncated" in r.getMessage() for r in caplog.records if r.name == "gpu_ssh_utils")
        assert ssh_client.run(["echo", "still alive"]).stdout == "still alive\n"

    def test_client_default_cap_applies(self, ssh_target):
        with make_client(ssh_target, max_output_bytes=10) as client:
            result = client.run(["sh", "-c", "echo 0123456789abcdef; echo 0123456789abcdef >&2"])
        assert result.stdout == "0123456789" and result.stderr == "0123456789" and result.truncated

    def test_timeout_kills_the_remote_command(self, ssh_client):
        marker = f"{random.randint(100000, 999999)}.{random.randint(1, 999)}"
        started = time.monotonic()
        with pytest.raises(CommandTimeout) as info:
            # The outer sh keeps a child, so this also proves the whole process group is killed.
            ssh_client.run(["sh", "-c", f"sleep {marker}; echo never"], timeout=1)
        assert time.monotonic() - started < 8
        assert info.value.timeout_seconds == 1 and "did not finish within 1s" in str(info.value)
        deadline = time.monotonic() + 5
        while True:
            alive = ssh_client.run(["pgrep", "-f", f"sleep {marker}"], check=False)
            if alive.exit_code == 1 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert alive.exit_code == 1, f"remote command still running: {alive.stdout}"

    def test_client_default_timeout_applies(self, ssh_target):
        with make_client(ssh_target, command_timeout=0.5) as client:
            with pytest.raises(CommandTimeout):
                client.run(["sleep", "5"])
            assert client.run(["echo", "ok"], timeout=10).stdout == "ok\n"

    def test_reconnects_after_close(self, ssh_target):
        client = make_client(ssh_target)
        with client:
            first = client.local_port
        assert client.run(["echo", "again"]).stdout == "again\n"  # run() connects on demand
        assert client.local_port != first
        client.close()


def cache_args(t) -> tuple:
    return (t.host, t.port, t.user, t.client_key_text, t.host_public_key)


class TestCachedClient:
    def test_same_arguments_share_one_connection_until_ttl(self, ssh_target):
        now = [1000.0]
        args = (
            ssh_target.host,
            ssh_target.port,
            ssh_target.user,
            ssh_target.client_key_text,
            ssh_target.host_public_key,
        )
        a = gpu_ssh_utils.cached_client(*args, ttl_seconds=60, clock=lambda: now[0])
        b = gpu_ssh_utils.cached_client(*args, ttl_seconds=60, clock=lambda: now[0])
        assert a is b and a.is_connected
        port = a.local_port
        now[0] += 61
        c = gpu_ssh_utils.cached_client(*args, ttl_seconds=60, clock=lambda: now[0])
        assert c is not a and not a.is_connected and c.local_port != port
        assert gpu_ssh_utils.close_cached_clients() == 1
        assert not c.is_connected

    def test_dead_connection_is_replaced(self, ssh_target):
        args = (
            ssh_target.host,
            ssh_target.port,
            ssh_target.user,
            ssh_target.client_key_text,
            ssh_target.host_public_key,
        )
        a = gpu_ssh_utils.cached_client(*args)
        a.close()
        b = gpu_ssh_utils.cached_client(*args)
        assert b is not a and b.run(["true"]).exit_code == 0
