#!/usr/bin/env python3
"""Writes src/mwaa/airflow-cli-table.json: the Airflow CLI of every version MWAA runs.

The product's MWAA CLI client refuses to send a command this table says the environment's Airflow
would refuse (src/mwaa/airflow-cli.ts), and the tests hold every command we send against it.

For each version in src/mwaa/versions.ts it downloads the published wheel from PyPI (checked
against PyPI's sha256), reads the CLI definition from the zip without installing or importing
anything, and walks it with `ast`: the module-level `Arg(...)` definitions, the `ActionCommand`
and `GroupCommand` tuples and `core_commands`. Per command path it records each option's flags,
whether it takes a value, its literal choices and whether it is required, and the positionals.

Where the CLI lives:
  2.x   apache-airflow        airflow/cli/cli_config.py
  3.x   apache-airflow-core   airflow/cli/cli_config.py
  roles: part of cli_config.py in 2.7; in 2.8 the FAB auth manager's
         airflow/auth/managers/fab/cli_commands/definition.py (same wheel); from 2.9 on the FAB
         provider's airflow/providers/fab/auth_manager/cli_commands/definition.py (cli/definition.py
         in its 3.x releases), at the version
         MWAA's image pins (FAB_PROVIDER below).

Rerun:  python3 scripts/airflow-cli-table.py [--cache DIR] [--out FILE]
Wheels are cached in .cache/airflow-wheels/ (git-ignored); a cached wheel is used only when its
sha256 matches PyPI's. Needs only the Python standard library.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import io
import json
import re
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VERSIONS_TS = REPO / "src" / "mwaa" / "versions.ts"
DEFAULT_OUT = REPO / "src" / "mwaa" / "airflow-cli-table.json"
DEFAULT_CACHE = REPO / ".cache" / "airflow-wheels"

# The command groups (and single commands) recorded: every one MWAA's CLI endpoint lists.
GROUPS = (
    "assets",
    "backfill",
    "cheat-sheet",
    "connections",
    "dags",
    "db",
    "providers",
    "roles",
    "tasks",
    "variables",
    "version",
)

# apache-airflow-providers-fab as MWAA's images pin it (aws/amazon-mwaa-docker-images,
# images/airflow/<version>/BillOfMaterials/<version>/Python-Packages-BOM.txt).
FAB_PROVIDER = {
    "2.9.2": "1.1.1",
    "2.10.1": "1.3.0",
    "2.10.3": "1.5.0",
    "2.11.0": "1.5.3",
    "2.11.2": "1.5.4",
    "3.0.6": "2.4.1",
    "3.2.1": "3.6.1",
    "3.3.1": "3.8.0",
}

CLI_CONFIG = "airflow/cli/cli_config.py"
FAB_CORE_DEFINITION = "airflow/auth/managers/fab/cli_commands/definition.py"
# The FAB provider moved its CLI definition (3.x providers: airflow/providers/fab/cli/).
FAB_PROVIDER_DEFINITIONS = (
    "airflow/providers/fab/auth_manager/cli_commands/definition.py",
    "airflow/providers/fab/cli/definition.py",
)

# Network bounds: connect/read timeout per socket operation, a deadline per download, a size cap.
SOCKET_TIMEOUT_S = 30
DOWNLOAD_DEADLINE_S = 600
METADATA_CAP = 32 * 1024 * 1024
WHEEL_CAP = 128 * 1024 * 1024

# argparse actions that take no value.
NO_VALUE_ACTIONS = {"store_true", "store_false", "store_const", "append_const", "count", "help", "version"}


class ExtractError(Exception):
    pass


def mwaa_versions() -> list[str]:
    """The keys of MWAA_AIRFLOW_VERSIONS in src/mwaa/versions.ts (the project's one version table)."""
    text = VERSIONS_TS.read_text(encoding="utf-8")
    block = re.search(r"MWAA_AIRFLOW_VERSIONS = \{(.*?)\}", text, re.S)
    if not block:
        raise ExtractError(f"{VERSIONS_TS}: MWAA_AIRFLOW_VERSIONS not found")
    versions = re.findall(r"'(\d+\.\d+\.\d+)':", block.group(1))
    if not versions:
        raise ExtractError(f"{VERSIONS_TS}: no versions in MWAA_AIRFLOW_VERSIONS")
    return versions


def read_capped(request: str | urllib.request.Request, cap: int) -> bytes:
    url = request.full_url if isinstance(request, urllib.request.Request) else request
    if not url.startswith("https://"):
        raise ExtractError(f"refusing a non-HTTPS URL: {url}")
    started = time.monotonic()
    chunks: list[bytes] = []
    size = 0
    with urllib.request.urlopen(request, timeout=SOCKET_TIMEOUT_S) as response:  # noqa: S310 (https only, checked above)
        while True:
            if time.monotonic() - started > DOWNLOAD_DEADLINE_S:
                raise ExtractError(f"{url}: not downloaded within {DOWNLOAD_DEADLINE_S} s")
            chunk = response.read(1 << 20)
            if not chunk:
                break
            size += len(chunk)
            if size > cap:
                raise ExtractError(f"{url}: larger than {cap} bytes")
            chunks.append(chunk)
    return b"".join(chunks)


def pypi_wheel(package: str, version: str) -> dict:
    """PyPI's record of the pure-Python wheel of package==version (its simple index, PEP 691 JSON)."""
    request = urllib.request.Request(
        f"https://pypi.org/simple/{package}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    index = json.loads(read_capped(request, METADATA_CAP))
    filename = f"{package.replace('-', '_')}-{version}-py3-none-any.whl"
    wheels = [f for f in index["files"] if f["filename"] == filename]
    if len(wheels) != 1:
        raise ExtractError(f"{package}=={version}: {filename} is not on PyPI")
    wheel = wheels[0]
    return {"filename": filename, "url": wheel["url"], "sha256": wheel["hashes"]["sha256"]}


def fetch_wheel(package: str, version: str, cache: Path) -> tuple[dict, zipfile.ZipFile]:
    info = pypi_wheel(package, version)
    path = cache / info["filename"]
    data = path.read_bytes() if path.exists() else b""
    if hashlib.sha256(data).hexdigest() != info["sha256"]:
        print(f"downloading {info['filename']}", file=sys.stderr)
        data = read_capped(info["url"], WHEEL_CAP)
        if hashlib.sha256(data).hexdigest() != info["sha256"]:
            raise ExtractError(f"{info['filename']}: sha256 differs from PyPI's {info['sha256']}")
        cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(path)
    source = {"package": package, "version": version, "wheel": info["filename"], "sha256": info["sha256"]}
    return source, zipfile.ZipFile(io.BytesIO(data))


# --- the walk ---------------------------------------------------------------------------------


class Unknown:
    """A value the walk does not evaluate (a call, a computed expression): kept as its source."""

    def __init__(self, source: str):
        self.source = source


class ArgDef:
    def __init__(self, flags: list[str], kwargs: dict):
        self.flags = flags
        self.kwargs = kwargs


class Walker:
    """Evaluates the module-level definitions of one CLI definition file, by name."""

    def __init__(self, text: str, where: str, names: dict | None = None):
        self.text = text
        self.where = where
        self.names: dict = dict(names or {})
        self.tree = ast.parse(text, filename=where)

    def src(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.text, node) or ast.dump(node)

    def run(self) -> dict:
        for stmt in self.tree.body:
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                self.names[stmt.targets[0].id] = self.ev(stmt.value)
            elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None:
                self.names[stmt.target.id] = self.ev(stmt.value)
            elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
                self.list_call(stmt.value)
            elif isinstance(stmt, ast.ClassDef) and stmt.name == "Arg":
                self.names[ARG_PARAMS] = arg_params(stmt, self.where)
            # `if` blocks add commands under a setting (internal-api, edge workers): none we record.
        return self.names

    def list_call(self, call: ast.Call) -> None:
        """`core_commands.append(X)` / `.extend(X)` at module level."""
        func = call.func
        if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)):
            return
        target = self.names.get(func.value.id)
        if isinstance(target, list) and func.attr in ("append", "extend"):
            value = self.ev(call.args[0])
            if func.attr == "append":
                target.append(value)
            elif isinstance(value, list):
                target.extend(value)

    def ev(self, node: ast.AST):
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            out: list = []
            for elt in node.elts:
                if isinstance(elt, ast.Starred):
                    inner = self.ev(elt.value)
                    if not isinstance(inner, list):
                        return Unknown(self.src(node))
                    out.extend(inner)
                else:
                    out.append(self.ev(elt))
            return out
        if isinstance(node, ast.Name):
            return self.names.get(node.id, Unknown(node.id))
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = self.ev(node.left), self.ev(node.right)
            if isinstance(left, list) and isinstance(right, list):
                return left + right
            return Unknown(self.src(node))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id == "Arg":
                return self.arg(node)
            if node.func.id in ("ActionCommand", "GroupCommand"):
                fields = {kw.arg: kw.value for kw in node.keywords if kw.arg}
                if node.args:
                    raise ExtractError(f"{self.where}:{node.lineno}: {node.func.id} with positional arguments")
                command = {"kind": node.func.id, "name": self.ev(fields["name"])}
                if node.func.id == "ActionCommand":
                    command["args"] = self.ev(fields["args"]) if "args" in fields else []
                else:
                    command["subcommands"] = self.ev(fields["subcommands"])
                return command
        return Unknown(self.src(node))

    def arg(self, node: ast.Call) -> ArgDef:
        keywords = {kw.arg: kw.value for kw in node.keywords if kw.arg}
        # Positional arguments too (`Arg(("-r", "--raw"), argparse.SUPPRESS, "store_true")`), by
        # the order of Arg.__init__'s parameters in this very file.
        params = self.names.get(ARG_PARAMS)
        if node.args and not isinstance(params, list):
            raise ExtractError(f"{self.where}:{node.lineno}: Arg(...) before class Arg is defined")
        for name, value in zip(params or [], node.args, strict=False):
            if name in keywords:
                raise ExtractError(f"{self.where}:{node.lineno}: Arg gets {name} twice")
            keywords[name] = value
        if len(node.args) > len(params or []):
            raise ExtractError(f"{self.where}:{node.lineno}: Arg with more positional arguments than parameters")
        flags_node = keywords.get("flags")
        flags = self.ev(flags_node) if flags_node is not None else None
        if not isinstance(flags, list) or not flags or not all(isinstance(f, str) for f in flags):
            raise ExtractError(f"{self.where}:{node.lineno}: Arg flags are not a tuple of strings")
        kwargs = {}
        for key in ("action", "nargs", "choices", "required", "type", "metavar"):
            if key in keywords:
                value = keywords[key]
                if key in ("action", "type") and not isinstance(value, ast.Constant):
                    kwargs[key] = self.src(value)
                else:
                    kwargs[key] = self.ev(value)
                    if key == "choices" and not isinstance(value, (ast.Tuple, ast.List, ast.Set)):
                        kwargs["choicesSource"] = self.src(value)
        return ArgDef(flags, kwargs)


ARG_PARAMS = "<Arg.__init__ parameters>"


def arg_params(cls: ast.ClassDef, where: str) -> list[str]:
    """The parameter names of `class Arg`'s __init__, in order, without self."""
    for item in cls.body:
        if isinstance(item, ast.FunctionDef) and item.name == "__init__":
            return [a.arg for a in item.args.args[1:]]
    raise ExtractError(f"{where}: class Arg has no __init__")


def describe_arg(arg: ArgDef, where: str) -> tuple[str, dict]:
    """('option' | 'positional', its row in the table)."""
    kw = arg.kwargs
    action = kw.get("action")
    nargs = kw.get("nargs")
    row: dict = {}
    if isinstance(nargs, Unknown) or isinstance(action, Unknown):
        raise ExtractError(f"{where}: {arg.flags}: nargs/action not literal")
    if arg.flags[0].startswith("-"):
        row["flags"] = list(arg.flags)
        if action == "argparse.BooleanOptionalAction":
            # argparse adds --no-<name> for every --<name>.
            row["flags"] += [f"--no-{f[2:]}" for f in arg.flags if f.startswith("--")]
            row["value"] = "none"
        elif action in NO_VALUE_ACTIONS:
            row["value"] = "none"
        elif action not in (None, "store", "append", "extend"):
            raise ExtractError(f"{where}: {arg.flags}: unknown action {action!r}")
        else:
            row["value"] = {None: "one", "?": "optional", "*": "many", "+": "oneOrMore"}.get(nargs, nargs)
            if action in ("append", "extend"):
                row["repeats"] = True
        if kw.get("required") is True:
            row["required"] = True
        kind = "option"
    else:
        if len(arg.flags) != 1:
            raise ExtractError(f"{where}: positional with several names: {arg.flags}")
        row["name"] = arg.flags[0]
        row["nargs"] = {None: "one", "?": "optional", "*": "many", "+": "oneOrMore"}.get(nargs, nargs)
        kind = "positional"
    choices = kw.get("choices")
    if isinstance(choices, list) and all(isinstance(c, str) for c in choices):
        row["choices"] = sorted(choices)
    elif choices is not None:
        # Computed (an enum's values): argparse checks them; the table names where they come from.
        row["choicesFrom"] = kw.get("choicesSource") or ", ".join(
            c.source if isinstance(c, Unknown) else repr(c)
            for c in (choices if isinstance(choices, list) else [choices])
        )
    arg_type = kw.get("type")
    if arg_type not in (None, "str"):
        row["type"] = arg_type if isinstance(arg_type, str) else repr(arg_type)
    if kw.get("metavar") == "DIRPATH" and "type" not in kw:
        row["type"] = "DIRPATH"  # cli_config's Arg checks that the directory exists
    return kind, row


def commands_of(command: dict, prefix: str, where: str, out: dict) -> None:
    path = f"{prefix} {command['name']}".strip()
    if command["kind"] == "GroupCommand":
        subs = command["subcommands"]
        if not isinstance(subs, list):
            raise ExtractError(f"{where}: subcommands of {path} not evaluated: {getattr(subs, 'source', subs)}")
        for sub in subs:
            if not isinstance(sub, dict):
                raise ExtractError(f"{where}: a subcommand of {path} is not a command: {getattr(sub, 'source', sub)}")
            commands_of(sub, path, where, out)
        return
    args = command["args"]
    if not isinstance(args, list):
        raise ExtractError(f"{where}: args of {path} not evaluated: {getattr(args, 'source', args)}")
    options: list[dict] = []
    positionals: list[dict] = []
    for arg in args:
        if not isinstance(arg, ArgDef):
            raise ExtractError(f"{where}: an argument of {path} is not an Arg: {getattr(arg, 'source', arg)}")
        kind, row = describe_arg(arg, f"{where} ({path})")
        (options if kind == "option" else positionals).append(row)
    out[path] = {"options": options, "positionals": positionals}


def read_member(wheel: zipfile.ZipFile, member: str, name: str) -> str:
    try:
        return wheel.read(member).decode("utf-8")
    except KeyError:
        raise ExtractError(f"{name}: no {member}") from None


def version_table(version: str, cache: Path) -> dict:
    major = int(version.split(".")[0])
    package = "apache-airflow-core" if major >= 3 else "apache-airflow"
    source, wheel = fetch_wheel(package, version, cache)
    source["files"] = [CLI_CONFIG]
    sources = [source]
    core = Walker(read_member(wheel, CLI_CONFIG, source["wheel"]), f"{source['wheel']}:{CLI_CONFIG}").run()
    top = core.get("core_commands")
    if not isinstance(top, list):
        raise ExtractError(f"{source['wheel']}: core_commands not found")
    commands = [c for c in top if isinstance(c, dict) and c["name"] in GROUPS]
    if "roles" not in {c["name"] for c in commands}:
        # The FAB auth manager's commands, written against cli_config's names.
        if version in FAB_PROVIDER:
            fab_source, fab_wheel = fetch_wheel("apache-airflow-providers-fab", FAB_PROVIDER[version], cache)
            members = [m for m in FAB_PROVIDER_DEFINITIONS if m in fab_wheel.namelist()]
            if len(members) != 1:
                raise ExtractError(f"{fab_source['wheel']}: expected one of {', '.join(FAB_PROVIDER_DEFINITIONS)}")
            member = members[0]
            fab_source["files"] = [member]
            sources.append(fab_source)
        else:
            fab_source, fab_wheel, member = source, wheel, FAB_CORE_DEFINITION
            source["files"].append(member)
        fab = Walker(read_member(fab_wheel, member, fab_source["wheel"]), f"{fab_source['wheel']}:{member}", core).run()
        roles = fab.get("ROLES_COMMANDS")
        if not isinstance(roles, list):
            raise ExtractError(f"{fab_source['wheel']}: ROLES_COMMANDS not found in {member}")
        commands.append({"kind": "GroupCommand", "name": "roles", "subcommands": roles})
    missing = set(GROUPS) - {c["name"] for c in commands}
    # assets and backfill are 3.x groups; 2.x has `dags backfill`.
    if major < 3:
        missing -= {"assets", "backfill"}
    if missing:
        raise ExtractError(f"Airflow {version}: no {', '.join(sorted(missing))} in the CLI definition")
    table: dict = {}
    for command in commands:
        commands_of(command, "", sources[0]["wheel"], table)
    return {"sources": sources, "commands": dict(sorted(table.items()))}


def dump(table: dict) -> str:
    """JSON with one command per line, so a new Airflow version reads as a small diff."""
    lines = ["{"]
    lines.append(f'  "generatedBy": {json.dumps(table["generatedBy"])},')
    lines.append(f'  "groups": {json.dumps(table["groups"])},')
    lines.append('  "versions": {')
    versions = list(table["versions"].items())
    for i, (version, entry) in enumerate(versions):
        lines.append(f"    {json.dumps(version)}: {{")
        lines.append(f'      "sources": {json.dumps(entry["sources"])},')
        lines.append('      "commands": {')
        commands = list(entry["commands"].items())
        for j, (path, spec) in enumerate(commands):
            comma = "," if j < len(commands) - 1 else ""
            lines.append(f"        {json.dumps(path)}: {json.dumps(spec, separators=(',', ':'))}{comma}")
        lines.append("      }")
        lines.append("    }" + ("," if i < len(versions) - 1 else ""))
    lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="where wheels are kept between runs")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the table to write")
    args = parser.parse_args()
    table = {
        "generatedBy": "scripts/airflow-cli-table.py from the published wheels; do not edit, rerun it",
        "groups": list(GROUPS),
        "versions": {},
    }
    try:
        for version in mwaa_versions():
            table["versions"][version] = version_table(version, args.cache)
            entry = table["versions"][version]
            wheels = ", ".join(s["wheel"] for s in entry["sources"])
            print(f"{version}: {len(entry['commands'])} commands from {wheels}", file=sys.stderr)
    except (ExtractError, OSError, KeyError, ValueError) as error:
        print(f"airflow-cli-table: {error}", file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(dump(table), encoding="utf-8")
    print(f"wrote {args.out.relative_to(REPO) if args.out.is_relative_to(REPO) else args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
