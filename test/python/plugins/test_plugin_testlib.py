"""The log-hygiene check that guards every plugin test must itself be able to fail."""

from __future__ import annotations

import logging

from plugin_testlib import find_leaks, keygen


def record(msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("probe", logging.DEBUG, __file__, 1, msg, args, None)


def test_detects_a_registered_key_line(tmp_path):
    text = keygen(tmp_path / "k", "ed25519")
    body_line = text.splitlines()[2]
    assert find_leaks([record("payload %s", body_line[5:] + body_line)]) != []
    assert find_leaks([record("payload %r", text.encode())]) != []  # repr'd bytes, escaped newlines


def test_detects_pem_armour_and_registered_values(sensitive):
    sensitive("a-registered-secret-value")
    assert find_leaks([record("-----BEGIN OPENSSH " + "PRIVATE KEY-----")]) != []
    assert find_leaks([record("x=%s", "a-registered-secret-value")]) != []


def test_clean_records_pass():
    assert find_leaks([record("connected in %.2fs", 0.25), record("SHA256:abc")]) == []
