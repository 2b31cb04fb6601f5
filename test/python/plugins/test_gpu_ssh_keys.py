"""load_private_key / key_fingerprint on keys made by the real ssh-keygen, in every container format."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ed25519
from plugin_testlib import keygen, ssh_keygen_fingerprint

import gpu_ssh_utils
from gpu_ssh_utils import KeyLoadError, key_fingerprint, load_private_key, public_key_fingerprint

CASES = [
    # (ssh-keygen type, bits, -m format or None for the OpenSSH default, expected paramiko name)
    ("ed25519", None, None, "ssh-ed25519"),
    ("ecdsa", 256, None, "ecdsa-sha2-nistp256"),
    ("ecdsa", 384, "PEM", "ecdsa-sha2-nistp384"),
    ("ecdsa", 521, "PKCS8", "ecdsa-sha2-nistp521"),
    ("rsa", 2048, None, "ssh-rsa"),
    ("rsa", 3072, "PEM", "ssh-rsa"),
    ("rsa", 2048, "PKCS8", "ssh-rsa"),
]


@pytest.mark.parametrize(("key_type", "bits", "fmt", "name"), CASES, ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CASES])
def test_keygen_keys_load_and_fingerprint_like_ssh_keygen(tmp_path, key_type, bits, fmt, name):
    path = tmp_path / "key"
    text = keygen(path, key_type, bits=bits, fmt=fmt)
    pkey = load_private_key(text)
    assert pkey.get_name() == name
    expected = ssh_keygen_fingerprint(path.with_suffix(".pub"))
    assert key_fingerprint(text) == expected
    assert key_fingerprint(pkey) == expected
    assert public_key_fingerprint(path.with_suffix(".pub").read_text()) == expected


def test_ed25519_pkcs8_pem_loads(tmp_path, sensitive):
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    sensitive(pem)
    assert load_private_key(pem).get_name() == "ssh-ed25519"


def test_tolerates_crlf_whitespace_and_escaped_newlines(tmp_path):
    text = keygen(tmp_path / "k", "ed25519")
    want = key_fingerprint(text)
    assert key_fingerprint("\n  " + text.replace("\n", "\r\n") + "  \n") == want
    one_line = text.strip().replace("\n", "\\n")  # how a key pasted into a JSON console field arrives
    assert key_fingerprint(one_line) == want


def test_encrypted_key_needs_passphrase(tmp_path):
    text = keygen(tmp_path / "k", "ed25519", passphrase="correct horse")
    with pytest.raises(KeyLoadError, match="encrypted"):
        load_private_key(text)
    assert load_private_key(text, passphrase="correct horse").get_name() == "ssh-ed25519"
    with pytest.raises(KeyLoadError, match="wrong passphrase"):
        load_private_key(text, passphrase="wrong")


def test_encrypted_pem_key_needs_passphrase(tmp_path):
    text = keygen(tmp_path / "k", "rsa", bits=2048, fmt="PEM", passphrase="pw123456")
    with pytest.raises(KeyLoadError, match="encrypted"):
        load_private_key(text)


def test_dsa_is_rejected_with_advice(sensitive):
    key = dsa.generate_private_key(key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    sensitive(pem)
    with pytest.raises(KeyLoadError, match="DSA keys are not supported"):
        load_private_key(pem)


def test_short_rsa_is_rejected(tmp_path):
    text = keygen(tmp_path / "k", "rsa", bits=1024, fmt="PEM")
    with pytest.raises(KeyLoadError, match="1024 bits"):
        load_private_key(text)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "empty"),
        ("   \n  ", "empty"),
        ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl user@h", "public key"),
        ('{"private_key": "x"}', "JSON"),
        ("hello world", "not in OpenSSH or PEM form"),
        ("PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\n", "PuTTY"),
        ("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", "Expected a private key"),
    ],
)
def test_unusable_text_names_the_problem(text, match):
    with pytest.raises(KeyLoadError, match=match):
        load_private_key(text)


def test_corrupt_key_error_contains_no_key_text(tmp_path):
    text = keygen(tmp_path / "k", "ed25519")
    lines = text.splitlines()
    corrupt = "\n".join([lines[0], lines[1][:-8] + "AAAAAAAA", *lines[2:]])
    truncated = "\n".join([lines[0], lines[1], lines[-1]])
    for bad in (corrupt, truncated):
        with pytest.raises(KeyLoadError) as info:
            load_private_key(bad)
        message = str(info.value)
        assert "could not be parsed" in message
        for line in lines[1:-1]:
            assert line not in message
            assert line[:16] not in message
        assert info.value.__cause__ is None and info.value.__suppress_context__


def test_key_load_error_is_a_value_error():
    assert issubclass(KeyLoadError, ValueError)
    assert issubclass(KeyLoadError, gpu_ssh_utils.GpuSSHError)


@pytest.mark.parametrize(
    "line",
    [
        "",
        "ssh-ed25519",
        "ssh-ed25519 !!!notbase64",
        "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl",
    ],
)
def test_bad_host_public_key_lines_are_rejected(line):
    with pytest.raises(ValueError):
        public_key_fingerprint(line)


def test_non_string_key_is_rejected():
    with pytest.raises(KeyLoadError, match="must be text"):
        load_private_key(json.dumps({"a": 1}).encode())  # type: ignore[arg-type]
