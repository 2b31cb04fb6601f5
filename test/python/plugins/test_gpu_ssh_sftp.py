"""SFTP upload/download/read_text against the real sshd's sftp subsystem."""

from __future__ import annotations

import os

import pytest

from gpu_ssh_utils import RemoteFileError, RemoteFileNotFound, RemoteFileTooLarge


def remote_mode(client, path: str) -> str:
    return client.run(["stat", "-c", "%a", path]).stdout.strip()


def test_round_trip_binary(ssh_client, remote_tmp):
    data = os.urandom(300_000)
    path = f"{remote_tmp}/blob.bin"
    assert ssh_client.upload(data, path) == len(data)
    assert ssh_client.download(path, max_bytes=len(data)) == data
    # The server sees the same bytes (checked with a tool other than SFTP).
    import hashlib

    assert ssh_client.run(["sha256sum", path]).stdout.split()[0] == hashlib.sha256(data).hexdigest()
    assert ssh_client.metrics.uploaded_bytes == len(data)
    assert ssh_client.metrics.downloaded_bytes == len(data)


def test_upload_mode_overwrite_and_no_temp_files_left(ssh_client, remote_tmp):
    path = f"{remote_tmp}/key.txt"
    ssh_client.upload(b"first version, longer", path)
    assert remote_mode(ssh_client, path) == "600"
    ssh_client.upload(b"second", path, mode=0o640)
    assert remote_mode(ssh_client, path) == "640"
    assert ssh_client.download(path) == b"second"
    assert ssh_client.run(["ls", "-A", remote_tmp]).stdout == "key.txt\n"


def test_upload_into_missing_directory(ssh_client, remote_tmp):
    with pytest.raises(RemoteFileNotFound):
        ssh_client.upload(b"x", f"{remote_tmp}/no/such/dir/f")


def test_download_refuses_a_large_file_before_reading_it(ssh_client, remote_tmp):
    path = f"{remote_tmp}/big"
    ssh_client.run(["truncate", "-s", "50M", path])  # 50 MiB sparse file: reading it would be slow
    before = ssh_client.metrics.downloaded_bytes
    with pytest.raises(RemoteFileTooLarge) as info:
        ssh_client.download(path, max_bytes=1_048_576)
    assert (info.value.size, info.value.max_bytes) == (50 * 1024 * 1024, 1_048_576)
    assert ssh_client.metrics.downloaded_bytes == before
    assert "refusing" in str(info.value)


def test_download_limit_is_inclusive(ssh_client, remote_tmp):
    path = f"{remote_tmp}/exact"
    ssh_client.upload(b"a" * 5000, path)
    assert len(ssh_client.download(path, max_bytes=5000)) == 5000
    with pytest.raises(RemoteFileTooLarge):
        ssh_client.download(path, max_bytes=4999)


def test_read_is_bounded_even_when_stat_reports_no_size(ssh_client):
    # /dev/zero stats as size 0 yet never ends: the bounded read must still stop.
    with pytest.raises(RemoteFileTooLarge):
        ssh_client.download("/dev/zero", max_bytes=65536)


def test_read_text(ssh_client, remote_tmp):
    path = f"{remote_tmp}/version.yaml"
    text = "a: 1\nb: 'two'\nc: ünïcødé\n"
    ssh_client.upload(text.encode(), path)
    assert ssh_client.read_text(path, max_bytes=1000) == text


def test_read_text_rejects_invalid_utf8(ssh_client, remote_tmp):
    path = f"{remote_tmp}/latin1"
    ssh_client.upload("café".encode("latin-1"), path)
    with pytest.raises(RemoteFileError, match="not valid utf-8"):
        ssh_client.read_text(path)


def test_missing_file(ssh_client, remote_tmp):
    with pytest.raises(RemoteFileNotFound) as info:
        ssh_client.download(f"{remote_tmp}/nope")
    assert isinstance(info.value, FileNotFoundError)
    assert str(info.value) == f"Remote path {remote_tmp}/nope does not exist on {ssh_client.host}."


def test_directory_is_not_a_file(ssh_client, remote_tmp):
    with pytest.raises(RemoteFileError, match="is a directory"):
        ssh_client.download(remote_tmp)


def test_exists_and_remove(ssh_client, remote_tmp):
    path = f"{remote_tmp}/tmpkey"
    assert not ssh_client.exists(path)
    ssh_client.upload(b"k", path)
    assert ssh_client.exists(path)
    assert ssh_client.remove(path) is True
    assert not ssh_client.exists(path)
    assert ssh_client.remove(path) is False
    with pytest.raises(RemoteFileNotFound):
        ssh_client.remove(path, missing_ok=False)


# --------------------------------------------------------------------------- a server that stops answering


def _frozen_read(ssh_target, *, open_sftp_first: bool):
    """Connects, freezes the sshd process serving this connection (SIGSTOP), then reads a file:
    returns (seconds, error) of the read, which runs in a thread so that a hang cannot hang the test."""
    import signal
    import threading
    import time

    from gpu_ssh_utils import GpuSSHClient

    client = GpuSSHClient(
        ssh_target.host,
        ssh_target.port,
        ssh_target.user,
        ssh_target.client_key_text,
        ssh_target.host_public_key,
        connect_timeout=2,
        command_timeout=2,
        retries=0,
    )
    client.connect()
    # The setup commands get a timeout a loaded machine cannot miss: only the read after the freeze
    # is held to the 2 s under test.
    setup = 120
    path = client.run(["mktemp", "/tmp/gpu-ssh-utils-frozen.XXXXXXXX"], timeout=setup).stdout.strip()
    client.run(["sh", "-c", 'echo "a: 1" > "$1"', "sh", path], timeout=setup)
    if open_sftp_first:
        assert client.read_text(path) == "a: 1\n"
    # The shell's parent is the sshd process that serves this connection's channels.
    session = int(client.run("echo $PPID", timeout=setup).stdout.strip())
    os.kill(session, signal.SIGSTOP)
    outcome: dict = {}

    def read() -> None:
        started = time.monotonic()
        try:
            client.read_text(path)
        except Exception as exc:  # the outcome is asserted by the caller
            outcome["error"] = exc
        outcome["seconds"] = time.monotonic() - started

    reader = threading.Thread(target=read, daemon=True)
    try:
        reader.start()
        reader.join(30)
        hung = reader.is_alive()
    finally:
        # Ends the frozen process and so the connection: a blocked read returns, close() cannot hang.
        os.kill(session, signal.SIGKILL)
        reader.join(10)
        client.close()
        os.unlink(path) if os.path.exists(path) else None
    assert not hung, "the SFTP read blocked on the frozen server"
    return outcome["seconds"], outcome.get("error")


@pytest.mark.parametrize("open_sftp_first", [False, True], ids=["sftp-started-after-freeze", "sftp-open-before"])
def test_sftp_reads_time_out_against_a_frozen_server(ssh_target, open_sftp_first):
    from gpu_ssh_utils import RemoteFileTimeout

    seconds, error = _frozen_read(ssh_target, open_sftp_first=open_sftp_first)
    assert isinstance(error, RemoteFileTimeout), repr(error)
    assert "no answer within 2s" in str(error)
    # One command timeout, plus one more at most for closing the file handle that timed out.
    assert seconds < 2 * 2 + 2, seconds
