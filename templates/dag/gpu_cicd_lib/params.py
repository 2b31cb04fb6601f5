"""The run parameters: which configured servers a run targets, checked again at run time (a schema
cannot express all of this, and a run can be created without schema validation)."""

from __future__ import annotations

import re

from .common import shown


class InputError(ValueError):
    """A run parameter was rejected; the message names the parameter and what is allowed."""


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
