"""SSH access to GPU servers for the gpu_server_cicd_workflow DAG.

Shipped in plugins.zip and imported by tasks as ``import gpu_ssh_utils``. The public API is
documented in the project's plugin API notes; keep it stable.

Security rules this module enforces:
- the server's host key is pinned and verified (no known_hosts files, no auto-add unless the
  caller explicitly allows an unknown host, which is logged as a warning);
- only the key passed in is used (no agent, no ~/.ssh keys) and key text never reaches a log
  record or an exception message;
- every argument of a list command is shell-quoted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import logging
import posixpath
import secrets
import select
import shlex
import socket
import stat
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import paramiko
from paramiko.common import cMSG_CHANNEL_REQUEST
from paramiko.hostkeys import HostKeyEntry
from paramiko.message import Message

__all__ = [
    "AuthenticationFailed",
    "CommandFailed",
    "CommandResult",
    "CommandTimeout",
    "GpuSSHClient",
    "GpuSSHError",
    "HostKeyMismatch",
    "KeyLoadError",
    "RemoteFileError",
    "RemoteFileNotFound",
    "RemoteFileTimeout",
    "RemoteFileTooLarge",
    "SSHConnectError",
    "SSHMetrics",
    "cached_client",
    "close_cached_clients",
    "join_command",
    "key_fingerprint",
    "load_private_key",
    "public_key_fingerprint",
    "quote",
]

log = logging.getLogger("gpu_ssh_utils")

_STDERR_TAIL_CHARS = 2000
_LOGGED_COMMAND_CHARS = 300
_READ_CHUNK = 32768


# --------------------------------------------------------------------------- errors


class GpuSSHError(Exception):
    """Base class of every error this module raises."""


class SSHConnectError(GpuSSHError):
    """Could not establish an authenticated SSH connection."""

    def __init__(self, message: str, *, host: str, port: int, attempts: int, retryable: bool):
        super().__init__(message)
        self.host = host
        self.port = port
        self.attempts = attempts
        self.retryable = retryable


class HostKeyMismatch(SSHConnectError):
    """The server's host key is not the pinned one."""


class AuthenticationFailed(SSHConnectError):
    """The server rejected the private key for this user."""


class CommandFailed(GpuSSHError):
    """A remote command exited non-zero (raised by run(check=True))."""

    def __init__(self, result: CommandResult, host: str):
        self.result = result
        self.command = result.command
        self.exit_code = result.exit_code
        self.stderr_tail = result.stderr[-_STDERR_TAIL_CHARS:]
        super().__init__(
            f"Remote command on {host} exited with code {result.exit_code}: "
            f"{_shorten(result.command)}" + (f"\nstderr (tail):\n{self.stderr_tail}" if self.stderr_tail else "")
        )


class CommandTimeout(GpuSSHError):
    """A remote command did not finish in time; it was signalled and its channel closed."""

    def __init__(self, command: str, timeout_seconds: float, host: str):
        self.command = command
        self.timeout_seconds = timeout_seconds
        super().__init__(
            f"Remote command on {host} did not finish within {timeout_seconds:g}s and was killed: "
            f"{_shorten(command)}. Raise the command timeout (ssh.commandTimeoutSeconds) if it is "
            "legitimately slow."
        )


class RemoteFileError(GpuSSHError):
    """An SFTP operation failed."""

    def __init__(self, message: str, remote_path: str):
        super().__init__(message)
        self.remote_path = remote_path


class RemoteFileNotFound(RemoteFileError, FileNotFoundError):
    """The remote path does not exist."""

    def __str__(self) -> str:  # FileNotFoundError would otherwise render its errno form
        return self.args[0]


class RemoteFileTimeout(RemoteFileError):
    """The server did not answer an SFTP request within the command timeout (it may be hung)."""


class RemoteFileTooLarge(RemoteFileError):
    """The remote file is larger than the caller's limit; it was not read."""

    def __init__(self, remote_path: str, size: int, max_bytes: int):
        super().__init__(
            f"Remote file {remote_path} is {size} bytes, more than the limit of {max_bytes} bytes; "
            "refusing to download it.",
            remote_path,
        )
        self.size = size
        self.max_bytes = max_bytes


class KeyLoadError(GpuSSHError, ValueError):
    """The private key text could not be used. The message never contains key material."""


# --------------------------------------------------------------------------- quoting


def quote(arg: str) -> str:
    """Quote one argument for a POSIX shell on the remote side."""
    if not isinstance(arg, str):
        raise TypeError(f"command arguments must be str, got {type(arg).__name__}")
    if "\x00" in arg:
        # A NUL cannot be passed through exec: the remote shell would silently truncate it.
        raise ValueError("command argument contains a NUL character")
    try:
        arg.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("command argument is not encodable as UTF-8 (lone surrogate)") from None
    return shlex.quote(arg)


def join_command(argv: Sequence[str]) -> str:
    """Quote and join an argument vector into one remote shell command line."""
    if isinstance(argv, str):
        raise TypeError("join_command expects a list of arguments, not a string")
    if len(argv) == 0:
        raise ValueError("command is empty")
    return " ".join(quote(a) for a in argv)


def _shorten(text: str, limit: int = _LOGGED_COMMAND_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --------------------------------------------------------------------------- keys

# Split so that secret scanners do not mistake this file for one holding a key.
_OPENSSH_HEADER = "-----BEGIN OPENSSH " + "PRIVATE KEY-----"
_PEM_LABELS = {
    "RSA PRIVATE KEY": "RSA (PKCS#1 PEM)",
    "EC PRIVATE KEY": "EC (SEC1 PEM)",
    "PRIVATE KEY": "PKCS#8 PEM",
    "ENCRYPTED PRIVATE KEY": "encrypted PKCS#8 PEM",
    "DSA PRIVATE KEY": "DSA PEM",
}


def _normalise_key_text(key_text: str) -> str:
    text = key_text.replace("\r\n", "\n").replace("\r", "\n").strip()
    # A key pasted into a console or a JSON value often arrives as one line with literal "\n".
    if "\n" not in text and "\\n" in text:
        text = text.replace("\\n", "\n").strip()
    return text + "\n"


def _describe_key_format(text: str) -> str:
    first = text.lstrip().split("\n", 1)[0].strip()
    if first == _OPENSSH_HEADER:
        return "OpenSSH"
    if first.startswith("-----BEGIN ") and first.endswith("-----"):
        label = first[len("-----BEGIN ") : -len("-----")]
        return _PEM_LABELS.get(label, f"PEM '{label}'")
    return "unknown"


def _openssh_key_is_encrypted(text: str) -> bool:
    body = "".join(line.strip() for line in text.split("\n") if line and not line.startswith("-----"))
    try:
        blob = base64.b64decode(body, validate=False)
    except (binascii.Error, ValueError):
        return False
    magic = b"openssh-key-v1\x00"
    if not blob.startswith(magic) or len(blob) < len(magic) + 4:
        return False
    n = int.from_bytes(blob[len(magic) : len(magic) + 4], "big")
    cipher = blob[len(magic) + 4 : len(magic) + 4 + n]
    return cipher != b"none"


def load_private_key(key_text: str, passphrase: str | None = None) -> paramiko.PKey:
    """Parse an ed25519, ECDSA or RSA private key in OpenSSH or PEM form into a paramiko key."""
    # cryptography is a hard dependency of paramiko; it parses every container format, while
    # paramiko's own loaders each accept only some (e.g. no PKCS#8, no PEM ed25519).
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa

    if not isinstance(key_text, str):
        raise KeyLoadError(f"SSH private key must be text, got {type(key_text).__name__}")
    text = _normalise_key_text(key_text)
    if not text.strip():
        raise KeyLoadError("SSH private key is empty: store the private key text (OpenSSH or PEM) in the secret.")
    first = text.split("\n", 1)[0]
    if first.startswith(("ssh-", "ecdsa-sha2-", "sk-")):
        raise KeyLoadError(
            "Got an SSH public key where the private key was expected: store the private key "
            f"('{_OPENSSH_HEADER}') in the secret."
        )
    if first.startswith("PuTTY-User-Key-File"):
        raise KeyLoadError("PuTTY .ppk keys are not supported: export the key in OpenSSH format (puttygen).")
    if first.startswith("{"):
        raise KeyLoadError(
            "SSH private key looks like a JSON document: configure the JSON field that holds the key "
            "(secrets.sshKeyJsonField)."
        )
    fmt = _describe_key_format(text)
    if fmt == "unknown":
        raise KeyLoadError("SSH private key is not in OpenSSH or PEM form (no '-----BEGIN ... PRIVATE KEY-----' line).")
    if fmt == "DSA PEM":
        raise KeyLoadError("DSA keys are not supported (OpenSSH disabled them): use an ed25519 key.")
    if "PRIVATE KEY" not in first:
        raise KeyLoadError(f"Expected a private key but found a {fmt} block.")

    encrypted = (
        (fmt == "OpenSSH" and _openssh_key_is_encrypted(text))
        or fmt == "encrypted PKCS#8 PEM"
        or "Proc-Type: 4,ENCRYPTED" in text
    )
    if encrypted and not passphrase:
        raise KeyLoadError(
            f"SSH private key ({fmt}) is encrypted and no passphrase was given: store an unencrypted key in the secret."
        )
    password = passphrase.encode("utf-8") if passphrase else None
    data = text.encode("utf-8")
    try:
        if fmt == "OpenSSH":
            key = serialization.load_ssh_private_key(data, password=password)
        else:
            key = serialization.load_pem_private_key(data, password=password)
    except UnsupportedAlgorithm:
        raise KeyLoadError(
            f"SSH private key ({fmt}) could not be parsed: unsupported key algorithm, or corrupt text. "
            "Use an unencrypted ed25519 key."
        ) from None
    except (ValueError, TypeError) as exc:
        # The library's messages do not carry key bytes, but only the class name is kept to be safe.
        reason = "wrong passphrase, or " if encrypted else ""
        raise KeyLoadError(
            f"SSH private key ({fmt}) could not be parsed ({reason}corrupt or truncated text; {type(exc).__name__})."
        ) from None

    if isinstance(key, ed25519.Ed25519PrivateKey):
        openssh = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
        ).decode("ascii")
        return paramiko.Ed25519Key(file_obj=io.StringIO(openssh))
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if key.curve.name not in ("secp256r1", "secp384r1", "secp521r1"):
            raise KeyLoadError(
                f"ECDSA key on curve {key.curve.name} is not supported: use ed25519 or NIST P-256/384/521."
            )
        return paramiko.ECDSAKey(vals=(key, key.public_key()))
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < 2048:
            raise KeyLoadError(f"RSA key of {key.key_size} bits is too weak: use ed25519 or RSA >= 2048 bits.")
        return paramiko.RSAKey(key=key)
    if isinstance(key, dsa.DSAPrivateKey):
        raise KeyLoadError("DSA keys are not supported (OpenSSH disabled them): use an ed25519 key.")
    raise KeyLoadError(f"SSH private key type {type(key).__name__} is not supported: use ed25519, ECDSA or RSA.")


def _fingerprint_blob(blob: bytes) -> str:
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode("ascii").rstrip("=")


def key_fingerprint(key: str | paramiko.PKey) -> str:
    """SHA256 fingerprint of a private key's public half, as ``ssh-keygen -lf`` prints it."""
    pkey = key if isinstance(key, paramiko.PKey) else load_private_key(key)
    return _fingerprint_blob(pkey.asbytes())


def _parse_public_key_line(line: str) -> paramiko.PKey:
    if not isinstance(line, str) or not line.strip():
        raise ValueError("host public key is empty: expected an OpenSSH line 'ssh-ed25519 AAAA... [comment]'")
    fields = line.strip().split()
    if len(fields) < 2:
        raise ValueError("host public key must look like 'ssh-ed25519 AAAA... [comment]'")
    key_type, b64 = fields[0], fields[1]
    try:
        blob = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"host public key ({key_type}) has invalid base64 data") from None
    # The blob starts with its own type name; a mismatch means a copy/paste mix-up.
    if len(blob) < 4 or blob[4 : 4 + int.from_bytes(blob[:4], "big")] != key_type.encode("ascii", "replace"):
        raise ValueError(f"host public key data does not match its declared type {key_type}")
    try:
        entry = HostKeyEntry.from_line(f"host {key_type} {b64}")
    except Exception:
        entry = None
    if entry is None:
        raise ValueError(f"host public key type {key_type} is not supported")
    return entry.key


def public_key_fingerprint(public_key_line: str) -> str:
    """SHA256 fingerprint of an OpenSSH public key line ("type base64 [comment]")."""
    return _fingerprint_blob(_parse_public_key_line(public_key_line).asbytes())


# --------------------------------------------------------------------------- results & metrics


@dataclass(frozen=True)
class CommandResult:
    exit_code: int
    stdout: str
    stderr: str
    duration_seconds: float
    truncated: bool
    command: str = ""
    stdout_bytes: bytes = field(default=b"", repr=False)
    stderr_bytes: bytes = field(default=b"", repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe view (for XCom)."""
        return {
            "exit_code": self.exit_code,
            "stdout": self.stdout,
            "stderr": self.stderr,
            "duration_seconds": self.duration_seconds,
            "truncated": self.truncated,
            "command": self.command,
        }


@dataclass
class SSHMetrics:
    connect_seconds: float | None = None
    connect_attempts: int = 0
    commands_run: int = 0
    command_seconds: float = 0.0
    stdout_bytes: int = 0
    stderr_bytes: int = 0
    uploaded_bytes: int = 0
    downloaded_bytes: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------- host key policies


class _PinnedKeyMissingPolicy(paramiko.MissingHostKeyPolicy):
    """Reached only if paramiko finds no pinned entry for the host name: always refuse."""

    def __init__(self, host: str, port: int, expected: paramiko.PKey):
        self._host, self._port, self._expected = host, port, expected

    def missing_host_key(self, client, hostname, key):
        raise HostKeyMismatch(
            f"Host key for {hostname} is not the pinned one: server presented {key.get_name()} "
            f"{_fingerprint_blob(key.asbytes())}, expected {self._expected.get_name()} "
            f"{_fingerprint_blob(self._expected.asbytes())}.",
            host=self._host,
            port=self._port,
            attempts=1,
            retryable=False,
        )


class _AcceptUnknownPolicy(paramiko.MissingHostKeyPolicy):
    """Accept an unpinned host key for this connection only, loudly."""

    def missing_host_key(self, client, hostname, key):
        log.warning(
            "Accepting UNVERIFIED host key %s %s for %s (no pinned host key configured). "
            "Pin it in servers[].hostPublicKey to make the connection secure.",
            key.get_name(),
            _fingerprint_blob(key.asbytes()),
            hostname,
        )


def _pinned_type_transport_factory(pinned: paramiko.PKey) -> Callable[..., paramiko.Transport]:
    """A Transport that negotiates only the pinned key's host key algorithms.

    A server usually has several host keys. paramiko puts the pinned type first, but for RSA some
    versions (3.x) put the SHA-1 "ssh-rsa" first, which OpenSSH >= 8.8 refuses, and negotiation
    then lands on another type: a false mismatch. Offering only the pinned type's algorithms
    avoids that, and there is no point negotiating a key type that could never match anyway.
    """
    name = pinned.get_name()
    wanted = ("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa") if name == "ssh-rsa" else (name,)

    def factory(sock: Any, **kwargs: Any) -> paramiko.Transport:
        transport = paramiko.Transport(sock, **kwargs)
        options = transport.get_security_options()
        available = set(options.key_types)
        chosen = [t for t in wanted if t in available]
        if chosen:
            options.key_types = chosen
        return transport

    return factory


# --------------------------------------------------------------------------- the client


class _RetryableConnectError(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class GpuSSHClient:
    """One authenticated SSH connection to a GPU server, reused for every command and SFTP call."""

    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        private_key: str | paramiko.PKey,
        host_public_key: str | None,
        *,
        allow_unknown_host: bool = False,
        connect_timeout: float = 10,
        command_timeout: float = 300,
        keepalive_seconds: int = 30,
        retries: int = 3,
        backoff_seconds: float = 1.0,
        max_output_bytes: int = 1_048_576,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ):
        if not host:
            raise ValueError("host is required")
        if not username:
            raise ValueError("username is required")
        if not isinstance(port, int) or not 0 < port < 65536:
            raise ValueError(f"port must be an integer 1-65535, got {port!r}")
        if retries < 0:
            raise ValueError("retries must be >= 0")
        if max_output_bytes < 0:
            raise ValueError("max_output_bytes must be >= 0")
        self.host = host
        self.port = port
        self.username = username
        self._pkey = private_key if isinstance(private_key, paramiko.PKey) else load_private_key(private_key)
        if host_public_key:
            self._host_key: paramiko.PKey | None = _parse_public_key_line(host_public_key)
        elif allow_unknown_host:
            self._host_key = None
        else:
            raise ValueError(
                f"No host public key pinned for {host}:{port}: set servers[].hostPublicKey "
                "(e.g. from `ssh-keyscan -t ed25519 -p PORT HOST`, verified out of band), or allow "
                "unknown hosts explicitly."
            )
        self.allow_unknown_host = allow_unknown_host
        self.connect_timeout = connect_timeout
        self.command_timeout = command_timeout
        self.keepalive_seconds = keepalive_seconds
        self.retries = retries
        self.backoff_seconds = backoff_seconds
        self.max_output_bytes = max_output_bytes
        self._sleep = sleep
        self._clock = clock
        self._ssh: paramiko.SSHClient | None = None
        self._sftp: paramiko.SFTPClient | None = None
        self._lock = threading.RLock()
        self.metrics = SSHMetrics()

    # -- lifecycle

    def __enter__(self) -> GpuSSHClient:
        self.connect()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"GpuSSHClient({self.username}@{self.host}:{self.port}, connected={self.is_connected})"

    @property
    def is_connected(self) -> bool:
        transport = self._ssh.get_transport() if self._ssh else None
        return bool(transport and transport.is_active())

    @property
    def local_port(self) -> int | None:
        """Client-side TCP port of the live connection (identifies it in the server's log)."""
        transport = self._ssh.get_transport() if self._ssh else None
        if not transport:
            return None
        try:
            return transport.sock.getsockname()[1]
        except OSError:
            return None

    def connect(self) -> float:
        """Connect and authenticate; return the seconds the successful attempt took."""
        with self._lock:
            if self.is_connected:
                return self.metrics.connect_seconds or 0.0
            self.close()
            attempts = 1 + self.retries
            last_reason = ""
            for attempt in range(1, attempts + 1):
                self.metrics.connect_attempts += 1
                started = self._clock()
                try:
                    self._ssh = self._connect_once()
                except _RetryableConnectError as exc:
                    last_reason = exc.reason
                    if attempt < attempts:
                        delay = self.backoff_seconds * (2 ** (attempt - 1))
                        log.warning(
                            "SSH connect to %s:%d failed (attempt %d/%d: %s); retrying in %.1fs",
                            self.host,
                            self.port,
                            attempt,
                            attempts,
                            last_reason,
                            delay,
                        )
                        self._sleep(delay)
                    continue
                except SSHConnectError as exc:
                    exc.attempts = attempt
                    raise
                elapsed = self._clock() - started
                self.metrics.connect_seconds = elapsed
                log.info(
                    "SSH connected to %s@%s:%d in %.3fs (attempt %d/%d)",
                    self.username,
                    self.host,
                    self.port,
                    elapsed,
                    attempt,
                    attempts,
                )
                return elapsed
            raise SSHConnectError(
                f"Could not connect to {self.host}:{self.port} after {attempts} attempt(s): {last_reason}. "
                "Check that the server is up, the address/port are right and a security group or "
                "firewall allows SSH from the MWAA workers.",
                host=self.host,
                port=self.port,
                attempts=attempts,
                retryable=True,
            )

    def _connect_once(self) -> paramiko.SSHClient:
        target = f"{self.host}:{self.port}"
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        except socket.gaierror as exc:
            raise SSHConnectError(
                f"Cannot resolve SSH host {self.host!r} ({exc.strerror}).",
                host=self.host,
                port=self.port,
                attempts=1,
                retryable=False,
            ) from None
        except TimeoutError:
            raise _RetryableConnectError(f"TCP connect to {target} timed out after {self.connect_timeout:g}s") from None
        except ConnectionRefusedError:
            raise _RetryableConnectError(f"connection to {target} refused") from None
        except OSError as exc:
            raise _RetryableConnectError(f"TCP connect to {target} failed: {exc.strerror or exc}") from None

        ssh = paramiko.SSHClient()
        connect_extra: dict[str, Any] = {}
        if self._host_key is not None:
            connect_extra["transport_factory"] = _pinned_type_transport_factory(self._host_key)
            name = self.host if self.port == 22 else f"[{self.host}]:{self.port}"
            ssh.get_host_keys().add(name, self._host_key.get_name(), self._host_key)
            ssh.set_missing_host_key_policy(_PinnedKeyMissingPolicy(self.host, self.port, self._host_key))
        else:
            ssh.set_missing_host_key_policy(_AcceptUnknownPolicy())
        try:
            ssh.connect(
                self.host,
                port=self.port,
                username=self.username,
                pkey=self._pkey,
                sock=sock,
                timeout=self.connect_timeout,
                banner_timeout=self.connect_timeout,
                auth_timeout=self.connect_timeout,
                channel_timeout=self.connect_timeout,
                allow_agent=False,
                look_for_keys=False,
                **connect_extra,
            )
        except paramiko.BadHostKeyException as exc:
            ssh.close()
            raise HostKeyMismatch(
                f"Host key for {target} does not match the pinned key: server presented "
                f"{exc.key.get_name()} {_fingerprint_blob(exc.key.asbytes())}, expected "
                f"{exc.expected_key.get_name()} {_fingerprint_blob(exc.expected_key.asbytes())}. "
                "If the server was rebuilt, verify its new key out of band and update "
                "servers[].hostPublicKey; otherwise this may be an interception attempt.",
                host=self.host,
                port=self.port,
                attempts=1,
                retryable=False,
            ) from None
        except paramiko.AuthenticationException as exc:
            ssh.close()
            raise AuthenticationFailed(
                f"SSH authentication as {self.username}@{target} failed with key "
                f"{self._pkey.get_name()} {key_fingerprint(self._pkey)} ({type(exc).__name__}). "
                "Check that the public key is in ~/.ssh/authorized_keys of that user on the server "
                "and that the secret holds the matching private key.",
                host=self.host,
                port=self.port,
                attempts=1,
                retryable=False,
            ) from None
        except SSHConnectError:
            ssh.close()
            raise
        except (TimeoutError, ConnectionError, EOFError) as exc:
            ssh.close()
            raise _RetryableConnectError(f"SSH handshake with {target} failed: {type(exc).__name__}") from None
        except paramiko.SSHException as exc:
            ssh.close()
            text = str(exc)
            lowered = text.lower()
            if "no acceptable host key" in lowered and self._host_key is not None:
                raise HostKeyMismatch(
                    f"{target} offers no host key of the pinned type {self._host_key.get_name()} "
                    f"({_fingerprint_blob(self._host_key.asbytes())}). Pin one of the server's own host keys "
                    "(verified out of band) in servers[].hostPublicKey.",
                    host=self.host,
                    port=self.port,
                    attempts=1,
                    retryable=False,
                ) from None
            if text == "No existing session":
                # paramiko's start_client() gives up silently at `timeout`; the next call then
                # finds no session: the server accepted TCP but never completed the handshake.
                raise _RetryableConnectError(
                    f"no SSH banner/handshake from {target} within {self.connect_timeout:g}s"
                ) from None
            # paramiko reports a server that accepts TCP but never speaks (or drops us during the
            # handshake) as a banner/negotiation failure: transient, worth another attempt.
            if any(w in lowered for w in ("banner", "timed out", "timeout", "reset", "eof", "negotiation failed")):
                raise _RetryableConnectError(f"SSH handshake with {target} failed: {text}") from None
            raise SSHConnectError(
                f"SSH connection to {target} failed: {text}",
                host=self.host,
                port=self.port,
                attempts=1,
                retryable=False,
            ) from None
        except OSError as exc:
            ssh.close()
            raise _RetryableConnectError(f"SSH handshake with {target} failed: {exc.strerror or exc}") from None
        transport = ssh.get_transport()
        if transport is not None and self.keepalive_seconds and self.keepalive_seconds > 0:
            transport.set_keepalive(int(self.keepalive_seconds))
        return ssh

    def close(self) -> None:
        with self._lock:
            if self._sftp is not None:
                try:
                    self._sftp.close()
                except Exception:  # closing a dead channel must not mask the caller's error
                    pass
                self._sftp = None
            if self._ssh is not None:
                self._ssh.close()
                self._ssh = None

    def _transport(self) -> paramiko.Transport:
        if not self.is_connected:
            self.connect()
        transport = self._ssh.get_transport() if self._ssh is not None else None
        if transport is None:
            raise SSHConnectError(
                f"Not connected to {self.host}:{self.port}", host=self.host, port=self.port, attempts=0, retryable=True
            )
        return transport

    # -- commands

    def run(
        self,
        argv: Sequence[str] | str,
        *,
        timeout: float | None = None,
        check: bool = True,
        max_output_bytes: int | None = None,
    ) -> CommandResult:
        """Run one command on the server over the shared connection."""
        command = argv if isinstance(argv, str) else join_command(argv)
        if not command.strip():
            raise ValueError("command is empty")
        limit_seconds = self.command_timeout if timeout is None else timeout
        cap = self.max_output_bytes if max_output_bytes is None else max_output_bytes
        with self._lock:
            transport = self._transport()
            log.info("ssh %s@%s:%d $ %s", self.username, self.host, self.port, _shorten(command))
            started = self._clock()
            try:
                channel = transport.open_session(timeout=self.connect_timeout)
            except (paramiko.SSHException, EOFError, OSError) as exc:
                raise SSHConnectError(
                    f"Could not open a session channel on {self.host}:{self.port}: {exc}",
                    host=self.host,
                    port=self.port,
                    attempts=0,
                    retryable=True,
                ) from None
            try:
                result = self._exec(channel, command, started, limit_seconds, cap)
            finally:
                channel.close()
            self.metrics.commands_run += 1
            self.metrics.command_seconds += result.duration_seconds
        if result.truncated:
            log.warning("output of `%s` exceeded %d bytes and was truncated", _shorten(command, 80), cap)
        if check and result.exit_code != 0:
            raise CommandFailed(result, self.host)
        return result

    def _exec(
        self, channel: paramiko.Channel, command: str, started: float, limit_seconds: float, cap: int
    ) -> CommandResult:
        deadline = started + limit_seconds
        out, err = bytearray(), bytearray()
        seen = {"out": 0, "err": 0}
        # The remote shell first reports its PID (= process group, as sshd runs each session in a
        # new session) on stderr; it is stripped from the output and used to kill the command on
        # timeout. sshd ignores the SSH "signal" request for root logins, so it is not enough.
        pid_line = bytearray()
        pid: int | None = None
        pid_done = False

        def take(kind: str, buf: bytearray, data: bytes) -> None:
            seen[kind] += len(data)
            room = cap - len(buf)
            if room > 0:
                buf.extend(data[:room])

        def take_err(data: bytes) -> None:
            nonlocal pid, pid_done
            if pid_done:
                take("err", err, data)
                return
            pid_line.extend(data)
            newline = pid_line.find(b"\n")
            if newline == -1 and len(pid_line) < 32:
                return
            pid_done = True
            first = bytes(pid_line[:newline]) if newline != -1 else b""
            if first.isdigit():
                pid = int(first)
                take("err", err, bytes(pid_line[newline + 1 :]))
            else:
                take("err", err, bytes(pid_line))

        try:
            channel.exec_command(f"echo $$ >&2; {command}")
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise SSHConnectError(
                f"{self.host}:{self.port} refused to execute the command: {exc}",
                host=self.host,
                port=self.port,
                attempts=0,
                retryable=False,
            ) from None
        channel.shutdown_write()  # no stdin: commands that read it see EOF instead of hanging
        channel.setblocking(False)
        while True:
            progressed = False
            while channel.recv_ready():
                take("out", out, channel.recv(_READ_CHUNK))
                progressed = True
            while channel.recv_stderr_ready():
                take_err(channel.recv_stderr(_READ_CHUNK))
                progressed = True
            finished = channel.closed or (channel.eof_received and channel.exit_status_ready())
            if finished and not channel.recv_ready() and not channel.recv_stderr_ready():
                break
            remaining = deadline - self._clock()
            if remaining <= 0:
                self._kill(channel, pid)
                self.metrics.stdout_bytes += seen["out"]
                self.metrics.stderr_bytes += seen["err"]
                raise CommandTimeout(command, limit_seconds, self.host)
            if not progressed:
                if channel.eof_received:
                    # The pipe stays readable after EOF; wait on the exit status instead.
                    channel.status_event.wait(min(remaining, 0.1))
                else:
                    select.select([channel], [], [], min(remaining, 1.0))
        if not pid_done:
            take("err", err, bytes(pid_line))
        exit_code = channel.recv_exit_status() if channel.exit_status_ready() else -1
        self.metrics.stdout_bytes += seen["out"]
        self.metrics.stderr_bytes += seen["err"]
        duration = self._clock() - started
        return CommandResult(
            exit_code=exit_code,
            stdout=out.decode("utf-8", errors="replace"),
            stderr=err.decode("utf-8", errors="replace"),
            duration_seconds=duration,
            truncated=seen["out"] > len(out) or seen["err"] > len(err),
            command=command,
            stdout_bytes=bytes(out),
            stderr_bytes=bytes(err),
        )

    def _kill(self, channel: paramiko.Channel, pid: int | None) -> None:
        """Stop a timed-out command: SSH signal request, kill of its process group, channel close."""
        try:  # RFC 4254 6.9; honoured by OpenSSH for non-root sessions
            m = Message()
            m.add_byte(cMSG_CHANNEL_REQUEST)
            m.add_int(channel.remote_chanid)
            m.add_string("signal")
            m.add_boolean(False)
            m.add_string("KILL")
            channel.transport._send_user_message(m)
        except Exception as exc:  # best effort: the steps below still apply
            log.debug("could not send the SSH KILL signal request: %s", type(exc).__name__)
        channel.close()
        if pid is None or pid <= 1:
            return
        try:
            killer = channel.transport.open_session(timeout=self.connect_timeout)
            try:
                killer.exec_command(f"kill -9 -{pid} 2>/dev/null || kill -9 {pid} 2>/dev/null")
                killer.status_event.wait(min(self.connect_timeout, 10))
            finally:
                killer.close()
        except Exception as exc:  # a dead connection also ends the command's session
            log.warning("could not kill remote process group %d: %s", pid, type(exc).__name__)

    # -- SFTP

    def _sftp_client(self) -> paramiko.SFTPClient:
        if self._sftp is None or not self.is_connected:
            transport = self._transport()
            try:
                self._sftp = self._start_sftp(transport)
            except TimeoutError:
                raise RemoteFileTimeout(
                    f"SFTP on {self.host}:{self.port} did not start: no answer within "
                    f"{self.command_timeout:g}s (ssh.commandTimeoutSeconds) or {self.connect_timeout:g}s to open a "
                    "channel; the server may be hung.",
                    "",
                ) from None
            except (paramiko.SSHException, EOFError, OSError) as exc:
                raise RemoteFileError(
                    f"Could not start SFTP on {self.host}:{self.port} (is the sftp subsystem enabled?): {exc}",
                    "",
                ) from None
        return self._sftp

    def _start_sftp(self, transport: paramiko.Transport) -> paramiko.SFTPClient:
        """An SFTP session whose every request waits at most command_timeout: a server that stops
        answering must fail the read, not block the task until its execution_timeout."""
        try:
            channel = transport.open_session(timeout=self.connect_timeout)
        except paramiko.SSHException as exc:
            if "Timeout" in str(exc):  # paramiko's "Timeout opening channel."
                raise TimeoutError(str(exc)) from None
            raise
        # Every read and write of the session, version exchange included, raises TimeoutError
        # after this long.
        channel.settimeout(self.command_timeout)
        # Channel.invoke_subsystem() waits for the answer without a timeout: the same request,
        # with one (RFC 4254 6.5).
        m = Message()
        m.add_byte(cMSG_CHANNEL_REQUEST)
        m.add_int(channel.remote_chanid)
        m.add_string("subsystem")
        m.add_boolean(True)
        m.add_string("sftp")
        channel._event_pending()
        transport._send_user_message(m)
        if not channel.event.wait(self.command_timeout):
            channel.close()
            raise TimeoutError("no answer to the sftp subsystem request")
        if not channel.event_ready:
            channel.close()
            raise paramiko.SSHException("the server refused the sftp subsystem")
        return paramiko.SFTPClient(channel)

    def _sftp_error(self, exc: OSError, action: str, remote_path: str) -> RemoteFileError:
        import errno

        if isinstance(exc, TimeoutError):
            # The session is in an unknown state (half an answer may follow): start a new one next time.
            sftp, self._sftp = self._sftp, None
            if sftp is not None:
                try:
                    sftp.close()
                except Exception:  # closing a dead channel must not mask the timeout
                    pass
            return RemoteFileTimeout(
                f"Could not {action} {remote_path} on {self.host}: no answer within {self.command_timeout:g}s "
                "(ssh.commandTimeoutSeconds); the server may be hung.",
                remote_path,
            )
        if isinstance(exc, FileNotFoundError) or exc.errno == errno.ENOENT:
            return RemoteFileNotFound(f"Remote path {remote_path} does not exist on {self.host}.", remote_path)
        if isinstance(exc, PermissionError) or exc.errno == errno.EACCES:
            return RemoteFileError(
                f"Permission denied to {action} {remote_path} on {self.host} as {self.username}.", remote_path
            )
        return RemoteFileError(f"Could not {action} {remote_path} on {self.host}: {exc}", remote_path)

    def upload(self, data: bytes, remote_path: str, mode: int = 0o600) -> int:
        """Write data to remote_path atomically (temp file + rename), with the given mode."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError("upload data must be bytes")
        directory, name = posixpath.split(remote_path)
        tmp_path = posixpath.join(directory, f".{name}.tmp-{secrets.token_hex(6)}")
        with self._lock:
            sftp = self._sftp_client()
            try:
                with sftp.open(tmp_path, "wb") as handle:
                    handle.chmod(mode)  # before any byte lands, so the data is never world-readable
                    handle.write(bytes(data))
                sftp.posix_rename(tmp_path, remote_path)
            except OSError as exc:
                try:
                    sftp.remove(tmp_path)
                except OSError:
                    pass
                raise self._sftp_error(exc, "write", remote_path) from None
            self.metrics.uploaded_bytes += len(data)
        log.info("uploaded %d bytes to %s:%s (mode %o)", len(data), self.host, remote_path, mode)
        return len(data)

    def download(self, remote_path: str, max_bytes: int = 1_048_576) -> bytes:
        """Read a remote file, refusing (before reading) one larger than max_bytes."""
        with self._lock:
            sftp = self._sftp_client()
            try:
                attrs = sftp.stat(remote_path)
            except OSError as exc:
                raise self._sftp_error(exc, "stat", remote_path) from None
            if attrs.st_mode is not None and stat.S_ISDIR(attrs.st_mode):
                raise RemoteFileError(f"Remote path {remote_path} is a directory, not a file.", remote_path)
            size = attrs.st_size or 0
            if size > max_bytes:
                raise RemoteFileTooLarge(remote_path, size, max_bytes)
            try:
                with sftp.open(remote_path, "rb") as handle:
                    # One byte more than allowed tells us the file grew after stat.
                    data = handle.read(max_bytes + 1)
            except OSError as exc:
                raise self._sftp_error(exc, "read", remote_path) from None
            if len(data) > max_bytes:
                raise RemoteFileTooLarge(remote_path, len(data), max_bytes)
            self.metrics.downloaded_bytes += len(data)
        return data

    def read_text(self, remote_path: str, max_bytes: int = 65_536, encoding: str = "utf-8") -> str:
        data = self.download(remote_path, max_bytes)
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            raise RemoteFileError(f"Remote file {remote_path} is not valid {encoding} text.", remote_path) from None

    def exists(self, remote_path: str) -> bool:
        with self._lock:
            try:
                self._sftp_client().stat(remote_path)
            except FileNotFoundError:
                return False
            except OSError as exc:
                err = self._sftp_error(exc, "stat", remote_path)
                if isinstance(err, RemoteFileNotFound):
                    return False
                raise err from None
        return True

    def remove(self, remote_path: str, *, missing_ok: bool = True) -> bool:
        with self._lock:
            try:
                self._sftp_client().remove(remote_path)
            except OSError as exc:
                err = self._sftp_error(exc, "remove", remote_path)
                if isinstance(err, RemoteFileNotFound) and missing_ok:
                    return False
                raise err from None
        return True


# --------------------------------------------------------------------------- in-process cache

_cache_lock = threading.Lock()
_cache: dict[tuple, tuple[GpuSSHClient, float]] = {}


def cached_client(
    host: str,
    port: int,
    username: str,
    private_key: str | paramiko.PKey,
    host_public_key: str | None,
    *,
    ttl_seconds: float = 300,
    clock: Callable[[], float] = time.monotonic,
    **client_kwargs: Any,
) -> GpuSSHClient:
    """A connected client shared within this process for ttl_seconds (never across tasks/workers)."""
    pkey = private_key if isinstance(private_key, paramiko.PKey) else load_private_key(private_key)
    key = (
        host,
        port,
        username,
        key_fingerprint(pkey),
        " ".join((host_public_key or "").split()[:2]),
        tuple(sorted((k, repr(v)) for k, v in client_kwargs.items())),
    )
    now = clock()
    with _cache_lock:
        entry = _cache.get(key)
        if entry is not None:
            client, created = entry
            if now - created < ttl_seconds and client.is_connected:
                return client
            client.close()
            del _cache[key]
    client = GpuSSHClient(host, port, username, pkey, host_public_key, **client_kwargs)
    client.connect()
    with _cache_lock:
        _cache[key] = (client, now)
    return client


def close_cached_clients() -> int:
    """Close every cached connection; returns how many were closed."""
    with _cache_lock:
        entries = list(_cache.values())
        _cache.clear()
    for client, _ in entries:
        client.close()
    return len(entries)
