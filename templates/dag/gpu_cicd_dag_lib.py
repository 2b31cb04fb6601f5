"""The config-independent logic of the generated DAG: run-parameter checks, the version file's
reader and type checks, Variable text, SSH and git helpers, CloudWatch metrics and failure notices.

A plain module so that ruff checks it and pytest imports it as it is. The generator
(src/generator/render-dag.ts) copies everything below the INLINE marker into the generated DAG
file, so the DAG stays one self-contained file and plugins.zip does not change with this code.
The imports above the marker must be a subset of the DAG template's own (a unit test checks).

Config-dependent values come in as parameters; nothing here reads the config or Airflow. Heavy
modules (yaml, gpu_ssh_utils, aws_secrets_utils) are imported inside the functions that use them,
so that parsing the DAG file stays cheap.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable

# --- INLINE: the generated DAG holds everything below this line.

log = logging.getLogger("airflow.task.gpu_server_cicd")


class InputError(ValueError):
    """A run parameter was rejected; the message names the parameter and what is allowed."""


class VersionFileError(ValueError):
    """The version file is refused: not YAML, or outside the subset both readers agree on."""


def shown(value: object, limit: int = 80) -> str:
    """A bounded repr: values from a version file may share references (YAML aliases) or nest
    deeply, so a plain repr() could take seconds and gigabytes."""
    import reprlib

    shortener = reprlib.Repr()
    shortener.maxlevel = 3
    shortener.maxdict = shortener.maxlist = shortener.maxtuple = shortener.maxset = 4
    shortener.maxstring = shortener.maxother = limit
    text = shortener.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --------------------------------------------------------------------------- run parameters


def select_targets(
    params: dict,
    *,
    servers: list[dict],
    server_choices: list[str],
    all_servers: str,
    secret_arns: list[str],
    workspace_pattern: str,
) -> list[dict]:
    """Validates the run parameters (again: a schema cannot express all of this, and a run can be
    created without schema validation) and returns the servers of this run, each with the key's ARN.

    gpu_server_ip is a server name, a host (every server on it) or all_servers; a name wins over a
    host, so one value never selects two different servers.
    """
    selected = params.get("gpu_server_ip")
    workspace = params.get("workspace_path")
    secret_arn = params.get("secrets_arn")
    if not isinstance(selected, str) or selected not in server_choices:
        raise InputError(
            f"gpu_server_ip: {shown(selected)} is not a configured GPU server. "
            f"Allowed: {', '.join(server_choices)} (add servers in the project config)."
        )
    if workspace is None:
        workspace = ""
    if not isinstance(workspace, str) or (workspace != "" and not re.fullmatch(workspace_pattern, workspace)):
        raise InputError(
            f"workspace_path: {shown(workspace)} is not allowed. Use an absolute path of letters, digits, "
            '".", "_", "-" and "/" without "." or ".." components or "//", or "" for each server\'s '
            "configured workspace."
        )
    if not isinstance(secret_arn, str) or secret_arn not in secret_arns:
        raise InputError(
            f"secrets_arn: {shown(secret_arn)} is not the configured SSH key secret. "
            f"Allowed: {', '.join(secret_arns)} (secrets.sshKeyArn in the project config)."
        )
    by_name = [server for server in servers if server["name"] == selected]
    chosen = by_name or [server for server in servers if selected in (all_servers, server["host"])]
    targets = []
    for server in chosen:
        base = (workspace or server["workspace_path"]).rstrip("/") or "/"
        targets.append(
            {
                "name": server["name"],
                "host": server["host"],
                "port": server["port"],
                "user": server["user"],
                "host_public_key": server["host_public_key"],
                "workspace_path": base,
                "variables": server["variables"],
                "secrets_arn": secret_arn,
            }
        )
    return targets


def checkout_path(target: dict, repository: dict) -> str:
    """Where a repository is checked out on a target: its checkout_dir inside the run's workspace."""
    return f"{target['workspace_path'].rstrip('/')}/{repository['checkout_dir']}"


# --------------------------------------------------------------------------- the version file

_YAML_TAG = "tag:yaml.org,2002:"


_MORE_DOCUMENTS = 'contains more than one document (remove the "---" or "..." lines after the first)'
# Where YAML ends an anchor or alias name.
_NAME_ENDS = "\0 \t\r\n\x85\u2028\u2029,[]{}"
# The one directive allowed (the runtime check's VERSION_DIRECTIVE).
_VERSION_DIRECTIVE = re.compile(r"%YAML +1\.[12](?: +(?:#.*)?)?")
_SPACES_ONLY_LINE = re.compile(r"(^|\n) +(?=\r?\n|\Z)")
_ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|\r?\n( *\r?\n)?|[\s\S])")


def escape_problem(source: str, line_at: Callable[[int], int]) -> str | None:
    """Escapes in a double-quoted value the readers decode differently: a \\u escape of a UTF-16
    surrogate (PyYAML keeps two code points where the runtime check's reader joins a pair into one
    character), and a "\\" ending a line followed by an empty line (the runtime check's reader folds
    the empty line). line_at gives the line of an offset in source."""
    for match in _ESCAPE.finditer(source):
        code = int(match[1] or match[2] or "0", 16)
        if 0xD800 <= code <= 0xDFFF:
            return (
                f"the escape {match[0]} is half of a UTF-16 surrogate pair (write the character itself, "
                "or \\U0001F600 for one past U+FFFF)"
            )
        if match[3] is not None:
            return (
                f'line {line_at(match.start())}: a "\\" at the end of a line inside double quotes is followed '
                'by an empty line (write "\\n" for a line break)'
            )
    return None


_LOADER_CLASSES: dict = {}


def _strict_loader_class():
    """PyYAML's SafeLoader narrowed to the shared rule (read_version_document)."""
    import yaml
    from yaml.events import AliasEvent, MappingEndEvent
    from yaml.nodes import MappingNode, ScalarNode

    class StrictLoader(yaml.SafeLoader):
        limits: dict  # set on each instance by read_version_document
        aliases = 0
        depth = 0
        directives = 0
        document_ends = 0
        # Anchors whose node is still being composed: an alias to one would make a cycle.
        open_anchors: frozenset = frozenset()

        # YAML's indentation rule, which PyYAML does not enforce inside quoted values and flow
        # collections: each of their continuation lines is indented past the enclosing block's
        # key or "-" (self.indent is that column). PyYAML reads `a: "x\ny"` as "x y"; YAML and
        # the runtime check's reader refuse it.
        def unindented(self, what: str) -> VersionFileError:
            return VersionFileError(
                f'{what} is not closed before line {self.line + 1}, which is not indented past its key or "-" '
                "(close it, or indent each of its continuation lines further)"
            )

        def scan_to_next_token(self):
            if self.peek() == "#" and self.pointer > 0 and self.buffer[self.pointer - 1] not in " \n\ufeff":
                # PyYAML starts a comment at any "#" between tokens; YAML needs a space before it.
                raise VersionFileError(
                    f"line {self.line + 1}: a comment must be separated from the value before it by a space"
                )
            super().scan_to_next_token()
            # A closing bracket of the outermost collection may stand at the key's column.
            closing = self.flow_level == 1 and self.column == self.indent and self.peek() in "]}"
            if self.flow_level and self.column <= self.indent and self.peek() != "\0" and not closing:
                raise self.unindented("a flow collection ([...] or {...})")

        def scan_plain_spaces(self, indent, start_mark):
            line = self.line
            chunks = super().scan_plain_spaces(indent, start_mark)
            if self.flow_level and self.line > line and self.column <= self.indent and self.peek() not in "\0#]}":
                raise self.unindented("a flow collection ([...] or {...})")
            return chunks

        def scan_flow_scalar_non_spaces(self, double, start_mark):
            try:
                return super().scan_flow_scalar_non_spaces(double, start_mark)
            except (ValueError, OverflowError):
                # chr() of a \U escape past U+10FFFF (an OverflowError past 2**31).
                raise VersionFileError(
                    f"line {self.line + 1}: an escape past U+10FFFF, the last Unicode character"
                ) from None

        def scan_flow_scalar_breaks(self, double, start_mark):
            chunks = super().scan_flow_scalar_breaks(double, start_mark)
            if self.column <= self.indent:
                raise self.unindented("a quoted value")
            return chunks

        def scan_anchor(self, TokenClass):  # noqa: N803 - PyYAML's parameter name
            # YAML reads a name on to a space or ,[]{}; PyYAML stops earlier, at ":" for one.
            end = self.pointer + 1
            while self.buffer[end] not in _NAME_ENDS:
                end += 1
            name = self.buffer[self.pointer + 1 : end]
            if not re.fullmatch(r"[0-9A-Za-z_-]+", name):
                raise VersionFileError(
                    f"the anchor name {shown(name, 40)} is not allowed (use letters, digits, _ and -)"
                )
            return super().scan_anchor(TokenClass)

        def fetch_document_end(self):
            self.document_ends += 1
            if self.document_ends > 1:
                raise VersionFileError(_MORE_DOCUMENTS)
            super().fetch_document_end()

        def fetch_plain(self):
            # Inside [...] or {...} YAML reads "-" before ",]}" as a block entry, PyYAML as text.
            if self.flow_level and self.peek() == "-" and self.peek(1) in ",[]{}":
                raise VersionFileError('a plain "-" inside [...] or {...} is not allowed (quote it)')
            super().fetch_plain()

        def check_key(self):
            # In [...] or {...} PyYAML takes any "?" for a key indicator; YAML needs a space after it.
            if self.flow_level and self.peek(1) not in "\0 \t\r\n\x85\u2028\u2029,[]{}":
                raise VersionFileError('a plain value inside [...] or {...} starts with ":" or holds "?" (quote it)')
            return super().check_key()

        def scan_directive(self):
            # PyYAML and YAML differ on versions, repeats, unknown names and what may follow: one
            # plain version line at most, matched on the line as written.
            end = self.pointer
            while self.buffer[end] not in "\0\r\n\x85\u2028\u2029":
                end += 1
            line = self.buffer[self.pointer : end]
            self.directives += 1
            if not _VERSION_DIRECTIVE.fullmatch(line) or self.directives > 1:
                raise VersionFileError(f"the directive {shown(line, 40)} is not allowed (a version file needs none)")
            return super().scan_directive()

        def fetch_block_scalar(self, style):
            if self.column <= self.indent:
                raise VersionFileError(
                    f'line {self.line + 1}: a block value ("|" or ">") must stand past its key or "-" '
                    "(write it on the key's line: key: |)"
                )
            super().fetch_block_scalar(style)

        def compose_node(self, parent, index):
            if self.check_event(AliasEvent):
                self.aliases += 1
                if self.aliases > self.limits["maxAliases"]:
                    raise VersionFileError(f"more than {self.limits['maxAliases']} aliases")
                if self.peek_event().anchor in self.open_anchors:
                    raise VersionFileError("an alias inside its own anchored value (a cycle)")
                return super().compose_node(parent, index)
            event = self.peek_event()
            if getattr(event, "tag", None) is not None:
                raise VersionFileError(f"the tag {shown(event.tag, 100)} is not allowed (write plain values)")
            if self.depth >= self.limits["maxDepth"]:
                raise VersionFileError(f"nested more than {self.limits['maxDepth']} levels deep")
            outer = self.open_anchors
            self.depth += 1
            if event.anchor is not None:
                self.open_anchors = outer | {event.anchor}
            try:
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1
                self.open_anchors = outer

        def compose_scalar_node(self, anchor):
            node = super().compose_scalar_node(anchor)
            if node.style == '"':
                start = node.start_mark.index
                problem = escape_problem(
                    self.buffer[start : node.end_mark.index],
                    lambda offset: self.buffer[: start + offset].count("\n") + 1,
                )
                if problem is not None:
                    raise VersionFileError(problem)
            if node.style is None:  # plain: the implicit resolvers gave it its type
                kind = node.tag.removeprefix(_YAML_TAG)
                if kind == "timestamp" or (kind in ("int", "float") and ":" in node.value):
                    # YAML 1.1 forms that YAML 1.2 dropped and no Variable holds: they stay text.
                    node.tag = _YAML_TAG + "str"
                elif kind in ("merge", "value", "yaml"):
                    raise VersionFileError(f"the plain value {shown(node.value, 20)} is not allowed (quote it)")
                elif kind in ("int", "float") and len(node.value) > self.limits["maxNumberChars"]:
                    raise VersionFileError(f"a number longer than {self.limits['maxNumberChars']} characters")
            return node

        def compose_mapping_node(self, anchor):
            start = self.get_event()
            tag = self.resolve(MappingNode, None, start.implicit)
            node = MappingNode(tag, [], start.start_mark, None, flow_style=start.flow_style)
            if anchor is not None:
                self.anchors[anchor] = node
            seen = set()
            while not self.check_event(MappingEndEvent):
                if self.check_event(AliasEvent):
                    raise VersionFileError("an alias as a mapping key is not allowed")
                key = self.compose_node(node, None)
                if not isinstance(key, ScalarNode) or key.tag != _YAML_TAG + "str":
                    if isinstance(key, ScalarNode):
                        found = shown(key.value, 40)
                    else:
                        found = "a mapping" if isinstance(key, MappingNode) else "a list"
                    raise VersionFileError(f"the key {found} is not a string (quote it)")
                if key.value in seen:
                    raise VersionFileError(f"duplicate key {shown(key.value, 60)}")
                seen.add(key.value)
                node.value.append((key, self.compose_node(node, key)))
            node.end_mark = self.get_event().end_mark
            return node

    return StrictLoader


def read_version_document(text: str, limits: dict) -> dict:
    """Parses a version file under the one rule the DAG and the runtime check share (README,
    "Variable values"): one YAML document whose top level is a mapping; no tags, no merge keys,
    no duplicate keys, only string keys; at most limits["maxAliases"] aliases, limits["maxDepth"]
    levels of nesting and limits["maxNumberChars"] characters per number; no plain "=", no tabs,
    lone CRs, NEL/LS/PS line breaks or byte order marks past the start; none of the forms PyYAML
    reads otherwise than YAML and the runtime check's reader do (StrictLoader's overrides name
    each). Timestamps and base-60 numbers (1:30) stay text; everything else resolves as PyYAML's
    SafeLoader does. Raises VersionFileError with the reason."""
    import yaml

    # Characters on which YAML readers disagree (PyYAML's line breaks of YAML 1.1 only, its refusal
    # of most tabs, a lone CR as a line break, a byte order mark past the start): refused outright.
    for character, name in (
        ("\x85", "the line break NEL"),
        ("\u2028", "the line break LINE SEPARATOR"),
        ("\u2029", "the line break PARAGRAPH SEPARATOR"),
        ("\t", 'a tab (indent with spaces; write "\\t" inside double quotes)'),
    ):
        if character in text:
            raise VersionFileError(f"contains {name}")
    if "\r" in text.replace("\r\n", ""):
        raise VersionFileError("contains a carriage return that does not end a CRLF line")
    if "\ufeff" in text[1:]:
        raise VersionFileError("contains a byte order mark after the start")
    if not text.endswith("\n"):
        # Read as if the file ended with a line break, as most do: a block value on the last line
        # then ends with one (PyYAML drops it there, the runtime check's reader keeps it).
        text += "\n"
    # A line of only spaces reads as an empty line: inside a | or > value PyYAML keeps the spaces
    # past the value's indentation, the runtime check's reader does not when no text follows.
    text = _SPACES_ONLY_LINE.sub(r"\1", text)

    if "strict" not in _LOADER_CLASSES:
        # One class per process, made on first use (yaml is imported only when a file is read).
        _LOADER_CLASSES["strict"] = _strict_loader_class()
    loader = None
    try:
        loader = _LOADER_CLASSES["strict"](text)
        loader.limits = limits
        document = loader.get_single_data()
    except VersionFileError:
        raise
    except yaml.MarkedYAMLError as exc:
        if exc.context == "expected a single document in the stream":
            raise VersionFileError(_MORE_DOCUMENTS) from None
        mark = exc.problem_mark or exc.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = ", ".join(part for part in (exc.context, exc.problem) if part)
        raise VersionFileError(f"invalid YAML: {problem[:300]}{where}") from None
    except yaml.YAMLError as exc:
        raise VersionFileError(f"invalid YAML: {str(exc).splitlines()[0][:300]}") from None
    except (ValueError, OverflowError, RecursionError, MemoryError) as exc:
        # PyYAML's constructors raise plain ValueError (e.g. "0b_"), not YAMLError.
        raise VersionFileError(f"unreadable value ({type(exc).__name__})") from None
    finally:
        if loader is not None:
            loader.dispose()
    if not isinstance(document, dict):
        found = "an empty file" if document is None else f"a {type(document).__name__}"
        raise VersionFileError(f"expected a mapping of keys to values, found {found}")
    return document


def check_version_values(document: dict, variables: list[dict]) -> dict:
    """The configured keys of a parsed version file, type-checked; ValueError lists every problem."""
    if not isinstance(document, dict):
        found = "an empty file" if document is None else f"a {type(document).__name__}"
        raise ValueError(f"expected a mapping of keys to values, found {found}")
    problems = []
    values = {}
    for mapping in variables:
        key, expected = mapping["key"], mapping["type"]
        if key not in document:
            problems.append(f'missing key "{key}"')
            continue
        value = document[key]
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        if is_number and isinstance(value, float) and not math.isfinite(value):
            is_number = False
        ok = {
            "string": isinstance(value, str),
            "number": is_number,
            "integer": is_number and isinstance(value, int),
            "boolean": isinstance(value, bool),
            "scalar": isinstance(value, str | bool) or is_number,
        }[expected]
        if not ok:
            article = "an" if expected == "integer" else "a"
            problems.append(f'"{key}" should be {article} {expected}, found {shown(value)}')
            continue
        values[key] = value
    if problems:
        raise ValueError("; ".join(problems))
    return values


def js_number(value: int | float) -> str:
    """A number as JavaScript's String(n) writes it (both use the shortest round-trip digits), so
    the runtime check, written in TypeScript, compares equal strings. Integers keep every digit."""
    if isinstance(value, int):
        return str(value)
    if value == 0:
        return "0"
    from decimal import Decimal

    _, digit_tuple, exponent = Decimal(repr(abs(value))).as_tuple()
    digits = "".join(str(d) for d in digit_tuple)
    stripped = digits.rstrip("0") or "0"
    exponent += len(digits) - len(stripped)
    digits = stripped
    k, n = len(digits), len(digits) + exponent
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = f"{digits[:n]}.{digits[n:]}"
    elif -6 < n <= 0:
        text = "0." + "0" * -n + digits
    else:
        fraction = f".{digits[1:]}" if k > 1 else ""
        text = f"{digits[0]}{fraction}e{'+' if n - 1 >= 0 else '-'}{abs(n - 1)}"
    return f"-{text}" if value < 0 else text


def variable_text(value: str | int | float | bool) -> str:
    """The Airflow Variable value for a version-file scalar: strings as they are, booleans as
    true/false, numbers as JavaScript writes them (the runtime check uses the same rule)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return js_number(value)
    return value


# --------------------------------------------------------------------------- SSH, secrets, git


def private_key(secret_arn: str, *, json_field: str | None, ttl_seconds: int, fail: Callable[[str], Exception]) -> str:
    """The key text, in memory only (short-lived in-process cache in aws_secrets_utils)."""
    import aws_secrets_utils

    try:
        return aws_secrets_utils.get_secret(secret_arn, json_field=json_field, ttl_seconds=ttl_seconds)
    except aws_secrets_utils.SecretsError as exc:
        if exc.retryable:
            raise RuntimeError(f"Could not read the SSH key secret: {exc}") from None
        raise fail(f"Could not read the SSH key secret {secret_arn}: {exc}") from None


def connect(target: dict, expected_fingerprint: str | None, ssh: dict, fail: Callable[[str], Exception]):
    """One SSH connection for the whole task (every command of the task reuses it). ssh holds the
    key secret's json_field and ttl_seconds and GpuSSHClient's timeouts and retries."""
    import gpu_ssh_utils

    secret_arn = target["secrets_arn"]
    key_text = private_key(secret_arn, json_field=ssh["json_field"], ttl_seconds=ssh["ttl_seconds"], fail=fail)
    try:
        pkey = gpu_ssh_utils.load_private_key(key_text)
    except gpu_ssh_utils.KeyLoadError as exc:
        raise fail(f"The SSH key in {secret_arn} is not usable: {exc}") from None
    del key_text
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


# --------------------------------------------------------------------------- metrics and notices

# Which METRIC log line feeds which CloudWatch metric, and the field that holds its value. Units and
# per-item dimensions come from the config's metric table (src/config/metrics.ts) as `metrics`.
METRIC_LINES = {
    "ssh_connect": ("SshConnectSeconds", "seconds"),
    "git": ("GitSeconds", "seconds"),
    "variables": ("VariablesUpdated", "variables_updated"),
}
# The METRIC line field behind each per-item dimension.
ITEM_DIMENSION_FIELDS = {"Server": "server", "Repository": "repository"}
# PutMetricData limits: 1000 data per call and a 1 MB request. The size of a datum is estimated
# from its JSON with room for the query protocol's longer member names.
MAX_DATA_PER_CALL = 1000
MAX_REQUEST_BYTES = 1_000_000
# An unreachable endpoint costs seconds, not minutes: short timeouts, one retry.
AWS_CLIENT_OPTIONS = {"connect_timeout": 2, "read_timeout": 5, "retries": {"max_attempts": 2, "mode": "standard"}}

# The METRIC lines of the running task, published in one call when the task ends (publishes_metrics).
_pending_metrics: list[tuple[str, dict]] = []


def metric(name: str, **values: object) -> None:
    """Logs a METRIC line and keeps it for the task's PutMetricData call."""
    log.info("METRIC %s %s", name, json.dumps(values, sort_keys=True, default=str))
    _pending_metrics.append((name, values))


def metric_data(name: str, values: dict, settings: dict, timestamp) -> list[dict]:
    """The CloudWatch data of one METRIC line: the datum with the configured dimensions only (the
    series alarms watch) and, when the metric has per-item dimensions, the same datum with them
    added. A line that feeds no metric gives none. settings: namespace, dimensions, metrics (name ->
    unit, item_dimensions)."""
    source = METRIC_LINES.get(name)
    if source is None:
        return []
    metric_name, field = source
    value = values.get(field)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return []
    table = settings["metrics"][metric_name]
    base = [{"Name": key, "Value": str(text)} for key, text in sorted(settings["dimensions"].items())]
    extra = []
    for dimension in table["item_dimensions"]:
        text = values.get(ITEM_DIMENSION_FIELDS[dimension])
        if text not in (None, ""):
            extra.append({"Name": dimension, "Value": str(text)[:1024]})
    datum = {"MetricName": metric_name, "Value": float(value), "Unit": table["unit"], "Timestamp": timestamp}
    data = [{**datum, "Dimensions": base}]
    if extra:
        data.append({**datum, "Dimensions": base + extra})
    return data


def metric_batches(data: list[dict]) -> list[list[dict]]:
    """Splits data into PutMetricData calls within CloudWatch's limits (one call for any task of this
    DAG: a task has a few data, a call holds 1000)."""
    batches: list[list[dict]] = []
    size = 0
    for datum in data:
        datum_bytes = 2 * len(json.dumps(datum, default=str)) + 200
        if not batches or len(batches[-1]) >= MAX_DATA_PER_CALL or size + datum_bytes > MAX_REQUEST_BYTES:
            batches.append([])
            size = 0
        batches[-1].append(datum)
        size += datum_bytes
    return batches


def aws_client(service: str, region: str | None):
    """A boto3 client with short timeouts; AWS_ENDPOINT_URL (if set) chooses the endpoint."""
    import boto3
    from botocore.config import Config

    return boto3.client(service, region_name=region or None, config=Config(**AWS_CLIENT_OPTIONS))


def put_metrics(data: list[dict], settings: dict) -> int:
    """Publishes data to settings["namespace"]; returns the data published. Never raises: CloudWatch
    being unreachable or refusing costs a warning, and the METRIC lines stay in the log."""
    if not settings.get("namespace") or not data:
        return 0
    published = 0
    try:
        client = aws_client("cloudwatch", settings.get("region"))
        for batch in metric_batches(data):
            client.put_metric_data(Namespace=settings["namespace"], MetricData=batch)
            published += len(batch)
    except Exception as exc:  # noqa: BLE001 - metrics must never fail a task
        log.warning(
            "CloudWatch metrics not published (%d of %d data sent): %s",
            published,
            len(data),
            shown(str(exc), 300),
        )
    return published


def flush_metrics(settings: dict) -> int:
    """Publishes the METRIC lines this task logged (one PutMetricData call) and forgets them."""
    import datetime

    lines = list(_pending_metrics)
    _pending_metrics.clear()
    if not settings.get("namespace"):
        return 0
    now = datetime.datetime.now(datetime.UTC)
    data = [datum for name, values in lines for datum in metric_data(name, values, settings, now)]
    return put_metrics(data, settings)


def publishes_metrics(settings: dict):
    """Task decorator: the METRIC lines of one task try go to CloudWatch together when it ends,
    whether it succeeds or fails."""
    import functools

    def decorate(function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            _pending_metrics.clear()
            try:
                return function(*args, **kwargs)
            finally:
                flush_metrics(settings)

        return wrapper

    return decorate


def run_result_metric(settings: dict, succeeded: bool) -> int:
    """RunSucceeded: 1 when a run succeeded, 0 when it failed (from the DAG's run callbacks)."""
    import datetime

    table = settings["metrics"]["RunSucceeded"]
    dimensions = [{"Name": key, "Value": str(text)} for key, text in sorted(settings["dimensions"].items())]
    datum = {
        "MetricName": "RunSucceeded",
        "Value": 1.0 if succeeded else 0.0,
        "Unit": table["unit"],
        "Timestamp": datetime.datetime.now(datetime.UTC),
        "Dimensions": dimensions,
    }
    return put_metrics([datum], settings)


# SNS refuses a message over 256 KiB: "at most 256 KB in size (262,144 bytes, not 262,144
# characters)" of UTF-8, message attributes included (none are sent). The subject is counted in as
# well, so the bound holds however SNS adds them up. A fleet-wide outage fails thousands of task
# instances at once, exactly when the notice matters: it lists the first ones, then counts them.
SNS_MAX_MESSAGE_BYTES = 262_144
NOTICE_LISTED_TASKS = 50
NOTICE_SUMMARY_LINES = 200
NOTICE_CUT = "[the rest is cut to fit one SNS message; see the run in the Airflow UI]"


def clip(text: object, limit: int) -> str:
    """str(text), at most `limit` characters (an ellipsis marks a cut)."""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def task_state_counts(states: list[tuple[str, int, str]]) -> list[list]:
    """[task_id, state, count] of the run's task instances, by task and state, sorted."""
    counts: dict[tuple[str, str], int] = {}
    for task_id, _map_index, state in states:
        counts[(task_id, state)] = counts.get((task_id, state), 0) + 1
    return [[task_id, state, count] for (task_id, state), count in sorted(counts.items())]


def fit_bytes(text: str, limit: int) -> str:
    """text when its UTF-8 fits in `limit` bytes; otherwise whole lines of it that fit, then NOTICE_CUT."""
    data = text.encode()
    if len(data) <= limit:
        return text
    head = data[: max(0, limit - len(NOTICE_CUT.encode()) - 2)].decode(errors="ignore")
    return head[: head.rfind("\n") + 1] + NOTICE_CUT + "\n"


def failure_notice(run: dict) -> tuple[str, str]:
    """Subject and text of the notice about one failed run, within one SNS message whatever the run
    holds: the first NOTICE_LISTED_TASKS failed task instances, then counts by task and state.
    run: dag_id, run_id, reason, environment, log_group, failed (task_id, map_index, server,
    log_url), not_run (count), state_counts ([task_id, state, count]; from `failed` when absent)."""
    failed = run["failed"]
    # SNS: a subject of fewer than 100 printable ASCII characters; the count survives a long DAG id.
    tail = f" run failed: {len(failed)} failed task(s)"
    subject = f"Airflow DAG {clip(run['dag_id'], 99 - len('Airflow DAG ') - len(tail))}{tail}"
    subject = "".join(c if " " <= c <= "~" else "?" for c in subject)
    lines = [
        f"DAG: {clip(run['dag_id'], 250)}",
        f"Run: {clip(run['run_id'], 250)}",
        f"Environment: {clip(run['environment'], 100)}",
        f"Reason: {clip(run.get('reason') or 'task failed', 500)}",
        "",
        f"Failed tasks ({len(failed)}):",
    ]
    for entry in failed[:NOTICE_LISTED_TASKS]:
        where = []
        if entry.get("map_index") is not None and entry["map_index"] >= 0:
            where.append(f"map index {entry['map_index']}")
        if entry.get("server"):
            where.append(f"server {clip(entry['server'], 100)}")
        suffix = f" ({', '.join(where)})" if where else ""
        lines.append(f"- {clip(entry['task_id'], 250)}{suffix}")
        lines.append(f"  log: {clip(entry['log_url'], 2000)}")
    if not failed:
        lines.append("- none recorded as failed (see the run in the Airflow UI)")
    if len(failed) > NOTICE_LISTED_TASKS:
        lines.append(f"... and {len(failed) - NOTICE_LISTED_TASKS} more failed task instance(s), counted below.")
    if run.get("not_run"):
        lines.append(f"{run['not_run']} task(s) did not run because an upstream task failed.")
    if len(failed) > NOTICE_LISTED_TASKS:
        counts = run.get("state_counts") or task_state_counts([(entry["task_id"], -1, "failed") for entry in failed])
        lines += ["", "Task instances by task and state:"]
        shown_counts = counts[:NOTICE_SUMMARY_LINES]
        lines += [f"  {clip(task_id, 250)}: {count} {clip(state, 40)}" for task_id, state, count in shown_counts]
        if len(counts) > NOTICE_SUMMARY_LINES:
            lines.append(f"  ... and {len(counts) - NOTICE_SUMMARY_LINES} more (task, state) pairs")
    lines += [
        "",
        "Where the logs are: the Airflow UI links above (Log tab); on MWAA with task logging on, also the",
        f"CloudWatch Logs group {clip(run['log_group'], 600)}.",
    ]
    return subject, fit_bytes("\n".join(lines) + "\n", SNS_MAX_MESSAGE_BYTES - len(subject.encode()))


def send_failure_notice(topic_arn: str | None, run: dict) -> bool:
    """Publishes failure_notice(run) to the SNS topic; never raises (a warning when it fails)."""
    if not topic_arn:
        return False
    subject, text = failure_notice(run)
    try:
        aws_client("sns", topic_arn.split(":")[3]).publish(TopicArn=topic_arn, Subject=subject, Message=text)
    except Exception as exc:  # noqa: BLE001 - a notice must never fail the callback
        log.warning("Failure notice not sent to %s: %s", topic_arn, shown(str(exc), 300))
        return False
    log.info("Failure notice sent to %s: %s", topic_arn, subject)
    return True
