"""Helpers shared by the plugin tests and their conftest (a uniquely named module, so it cannot
clash with other test directories' helpers under pytest's default import mode)."""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import time
from pathlib import Path

SSH_KEYGEN = shutil.which("ssh-keygen") or "/usr/bin/ssh-keygen"

# Strings that must never appear in a log record: filled by fixtures and tests.
_SENSITIVE: set[str] = set()


def register_sensitive(text: str) -> None:
    """Remember secret text; for key material every base64 body line is registered on its own."""
    lines = [ln.strip() for ln in text.replace("\\n", "\n").splitlines()]
    body = [ln for ln in lines if ln and not ln.startswith("-----") and ":" not in ln]
    if any(ln.startswith("-----BEGIN") for ln in lines):
        _SENSITIVE.update(ln for ln in body if len(ln) >= 16)
    elif text.strip():
        _SENSITIVE.add(text.strip())


# --------------------------------------------------------------------------- helpers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def keygen(path: Path, key_type: str, *, bits: int | None = None, fmt: str | None = None, passphrase: str = "") -> str:
    """Generate a key with the real ssh-keygen; returns the private key text (registered as sensitive)."""
    args = [SSH_KEYGEN, "-q", "-t", key_type, "-N", passphrase, "-C", f"test-{key_type}", "-f", str(path)]
    if bits:
        args += ["-b", str(bits)]
    if fmt:
        args += ["-m", fmt]
    subprocess.run(args, check=True, capture_output=True, timeout=60)
    text = path.read_text()
    register_sensitive(text)
    return text


def ssh_keygen_fingerprint(pub_path: Path) -> str:
    out = subprocess.run(
        [SSH_KEYGEN, "-l", "-E", "sha256", "-f", str(pub_path)], check=True, capture_output=True, text=True
    )
    return out.stdout.split()[1]


def wait_for_port(port: int, proc: subprocess.Popen | None, log_path: Path | None, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            detail = log_path.read_text() if log_path and log_path.exists() else ""
            raise RuntimeError(f"server exited with {proc.returncode} before listening on {port}:\n{detail}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def find_leaks(records: list[logging.LogRecord]) -> list[str]:
    """Records (named by logger and source line, never by content) that carry key material or a registered secret."""
    offenders = []
    for record in records:
        text = record.getMessage()
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        if "PRIVATE KEY-----" in text or any(s in text for s in _SENSITIVE):
            offenders.append(f"{record.name}:{record.levelname} ({record.pathname}:{record.lineno})")
    return offenders
