"""quote()/join_command(): unit rules, then hostile strings echoed back by a real sshd + shell."""

from __future__ import annotations

import random

import pytest

import gpu_ssh_utils
from gpu_ssh_utils import join_command, quote

HOSTILE = [
    "",
    " ",
    "plain",
    "two words",
    "'",
    '"',
    "''",
    "'\"'\"'",
    "it's",
    'say "hi"',
    "$(id)",
    "`id`",
    "${HOME}",
    "$HOME",
    "$$",
    "$?",
    "a;b",
    "; rm -rf /tmp/should-never-exist",
    "a && b || c",
    "a | b",
    "a > /tmp/x",
    "< /etc/passwd",
    "a\nb",
    "\n",
    "line1\r\nline2",
    "tab\there",
    "back\\slash",
    "\\",
    "\\'",
    "-n",
    "-e",
    "--",
    "--help",
    "-",
    "*",
    "?",
    "[a-z]*",
    "~",
    "~root",
    "{a,b}",
    "!",
    "!!",
    "#comment",
    "a#b",
    "%s",
    "%%",
    "%b\\n",
    "ünïcødé",
    "日本語",
    "emoji 🚀🔥",
    "\u200b zero width",
    "rtl \u202e override",
    "\x01\x02\x7f control",
    "\x1b[31mred\x1b[0m",
    "a=b",
    "VAR=1 cmd",
    "(subshell)",
    "{ group; }",
    "x" * 5000,
]


def random_corpus(seed: int, count: int) -> list[str]:
    """Seeded random strings biased towards shell metacharacters, plus arbitrary code points."""
    rng = random.Random(seed)
    meta = list("'\"`$\\;&|<>(){}[]*?!#~%^=\n\t\r -") + ["$(", "${", "\\'", "'\\''", "\r\n", "é", "€", "😀", "\u2028"]
    out = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(0, 24)):
            pick = rng.random()
            if pick < 0.6:
                parts.append(rng.choice(meta))
            elif pick < 0.8:
                parts.append(chr(rng.randint(0x20, 0x7E)))
            else:
                cp = rng.randint(1, 0x10FFFF)
                if 0xD800 <= cp <= 0xDFFF:  # surrogates cannot be encoded; quote() rejects them
                    cp = 0x263A
                parts.append(chr(cp))
        out.append("".join(parts))
    return out


class TestQuoteRules:
    def test_safe_words_are_left_alone(self):
        assert quote("abc-1.2_x/y:z@host") == "abc-1.2_x/y:z@host"

    def test_empty_string_is_quoted(self):
        assert quote("") == "''"

    def test_metacharacters_are_single_quoted(self):
        assert quote("$(id)") == "'$(id)'"
        assert quote("it's") == "'it'\"'\"'s'"

    def test_nul_is_rejected(self):
        with pytest.raises(ValueError, match="NUL"):
            quote("a\x00b")

    def test_lone_surrogate_is_rejected(self):
        with pytest.raises(ValueError, match="UTF-8"):
            quote("a\udc80b")

    @pytest.mark.parametrize("bad", [b"bytes", 3, None, ["x"]])
    def test_non_str_is_rejected(self, bad):
        with pytest.raises(TypeError):
            quote(bad)  # type: ignore[arg-type]

    def test_join_command_quotes_each_argument(self):
        assert join_command(["git", "-C", "/w s", "log", "--format=%H"]) == "git -C '/w s' log --format=%H"

    def test_join_command_rejects_empty_and_plain_string(self):
        with pytest.raises(ValueError):
            join_command([])
        with pytest.raises(TypeError):
            join_command("echo hi")  # type: ignore[arg-type]

    def test_run_rejects_nul_before_touching_the_network(self, ssh_target):
        client = gpu_ssh_utils.GpuSSHClient(
            ssh_target.host, ssh_target.port, ssh_target.user, ssh_target.client_key_text, ssh_target.host_public_key
        )
        with pytest.raises(ValueError, match="NUL"):
            client.run(["echo", "a\x00b"])
        assert client.metrics.connect_attempts == 0


class TestQuotedArgumentsSurviveTheRealShell:
    """The server's login shell must receive every argument byte-identical."""

    @pytest.mark.parametrize("arg", HOSTILE, ids=range(len(HOSTILE)))
    def test_hostile_string_round_trips(self, shared_ssh, arg):
        result = shared_ssh.run(["printf", "%s", arg])
        assert result.stdout_bytes == arg.encode("utf-8")
        assert result.exit_code == 0

    def test_leading_dash_is_data_not_an_option(self, shared_ssh):
        # `printf -- %s` is not needed: the format comes first, so "-v" can only be data.
        assert shared_ssh.run(["printf", "%s|", "-v", "--", "-n"]).stdout == "-v|--|-n|"

    def test_seeded_corpus_as_one_argv(self, shared_ssh):
        corpus = HOSTILE + random_corpus(seed=20261126, count=400)
        # One command carries every argument; NUL separators make the split unambiguous.
        result = shared_ssh.run(["printf", "%s\\0", *corpus], max_output_bytes=4_000_000)
        assert not result.truncated
        echoed = result.stdout_bytes.split(b"\x00")[:-1]
        assert len(echoed) == len(corpus)
        mismatches = [i for i, (got, want) in enumerate(zip(echoed, corpus, strict=True)) if got != want.encode()]
        assert mismatches == []

    @pytest.mark.parametrize("seed", [1, 2, 3])
    def test_seeded_corpus_one_command_each(self, shared_ssh, seed):
        for arg in random_corpus(seed=seed, count=10):
            assert shared_ssh.run(["printf", "%s", arg]).stdout_bytes == arg.encode("utf-8"), repr(arg)

    def test_injection_attempt_does_not_execute(self, ssh_client, remote_tmp):
        marker = f"{remote_tmp}/pwned"
        payloads = [f"; touch {marker}", f"$(touch {marker})", f"`touch {marker}`", f"\ntouch {marker}\n"]
        for p in payloads:
            ssh_client.run(["echo", p])
        assert ssh_client.run(["test", "-e", marker], check=False).exit_code == 1
