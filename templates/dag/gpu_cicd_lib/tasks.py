"""The bodies of the DAG's tasks and run callbacks. The generated DAG file calls each one from a
one-line stub that imports this module when the task runs, passing its CONFIG (the config's values,
see the DAG file) and the task's inputs; what a task returns goes to XCom as one value.

On MWAA each task may run on a different worker, so no task relies on a file or an in-memory object
that another task created: every SSH task fetches the key itself (gpu_ssh_utils and
aws_secrets_utils from plugins.zip) and holds it only in memory. Only the key's fingerprint is ever
logged or passed through XCom.
"""

from __future__ import annotations

import json
import time

from . import monitoring
from .common import log, shown
from .params import InputError, checkout_path, select_targets
from .remote import connect, git, remote_error, ssh_key
from .version_file import VersionFileError, check_version_values, read_version_document, variable_text


def airflow(config: dict):
    """The adapter module of the Airflow line the DAG was generated for."""
    if config["airflow_line"] == "3":
        from . import airflow3 as adapter
    else:
        from . import airflow2 as adapter
    return adapter


def check_inputs(config: dict, params: dict) -> list[dict]:
    """The servers of this run (see select_targets), or InputError naming the parameter."""
    return select_targets(
        params,
        servers=config["servers"],
        server_choices=config["server_choices"],
        all_servers=config["all_servers"],
        secret_arns=[config["ssh_key_arn"]],
        workspace_pattern=config["workspace_pattern"],
    )


def validate_inputs(config: dict, params: dict | None) -> list[dict]:
    try:
        targets = check_inputs(config, dict(params or {}))
    except InputError as exc:
        raise airflow(config).failure(str(exc)) from None
    names = [target["name"] for target in targets]
    log.info("Run targets %d server(s): %s", len(names), ", ".join(names))
    return targets


def retrieve_ssh_key(config: dict, targets: list[dict]) -> dict:
    import gpu_ssh_utils

    fail = airflow(config).failure
    started = time.monotonic()
    secrets_arn = targets[0]["secrets_arn"]
    pkey = ssh_key(secrets_arn, config["ssh"], fail)
    info = {
        "secret_arn": secrets_arn,
        "key_type": pkey.get_name(),
        "key_bits": pkey.get_bits(),
        "fingerprint": gpu_ssh_utils.key_fingerprint(pkey),
        "seconds": round(time.monotonic() - started, 3),
    }
    log.info("SSH key %s (%s, %d bits) is usable.", info["fingerprint"], info["key_type"], info["key_bits"])
    return info


def test_ssh_connection(config: dict, target: dict, key_info: dict) -> dict:
    return monitoring.publishes_metrics(config["metrics"])(_test_ssh_connection)(config, target, key_info)


def _test_ssh_connection(config: dict, target: dict, key_info: dict) -> dict:
    import gpu_ssh_utils

    fail = airflow(config).failure
    with connect(target, key_info["fingerprint"], config["ssh"], fail) as ssh:
        try:
            whoami = ssh.run(["whoami"]).stdout.strip()
        except gpu_ssh_utils.GpuSSHError as exc:
            raise RuntimeError(remote_error(target, "whoami", exc)) from None
        if whoami != target["user"]:
            raise fail(f"whoami on server {target['name']} says {shown(whoami)}, expected {target['user']!r}.")
        metrics = ssh.metrics.to_dict()
    monitoring.metric("ssh_connect", server=target["name"], seconds=metrics["connect_seconds"])
    return {"server": target["name"], "whoami": whoami, "ssh": metrics}


def check_gpus(config: dict, target: dict, key_info: dict, connection: dict) -> dict:
    return monitoring.publishes_metrics(config["metrics"])(_check_gpus)(config, target, key_info, connection)


def _check_gpus(config: dict, target: dict, key_info: dict, connection: dict) -> dict:
    """nvidia-smi's GPU query and header on the server, judged against its gpus expectation; fails
    the server (and so its branch of the run) with the reason. Returns the connection it was given,
    with what was found, for the tasks after it."""
    import gpu_ssh_utils

    from . import gpus

    expected = (config.get("gpus") or {}).get(target["name"])
    if not expected:
        log.info("Server %s has no gpus expectation; its GPUs are not checked.", target["name"])
        return {**connection, "gpus": None}
    fail = airflow(config).failure
    outputs = []
    with connect(target, key_info["fingerprint"], config["ssh"], fail) as ssh:
        for argv in (gpus.QUERY_ARGV, gpus.HEADER_ARGV):
            try:
                result = ssh.run(argv, check=False, max_output_bytes=gpus.MAX_OUTPUT_BYTES)
            except gpu_ssh_utils.GpuSSHError as exc:
                raise RuntimeError(remote_error(target, "nvidia-smi", exc)) from None
            if result.truncated:
                limit = gpus.MAX_OUTPUT_BYTES
                raise fail(f"GPUs of server {target['name']}: nvidia-smi printed more than {limit} bytes.")
            outputs.append({"code": result.exit_code, "stdout": result.stdout, "stderr": result.stderr})
    try:
        reading = gpus.read_gpus(outputs[0], outputs[1])
    except gpus.NvidiaSmiError as exc:
        raise fail(f"GPUs of server {target['name']}: {exc}") from None
    for gpu in reading["gpus"]:
        log.info(
            "GPU %d %s: %s / %d MiB used, uncorrected ECC errors %s, MIG %s, bus %s",
            gpu["index"],
            shown(gpu["name"]),
            "-" if gpu["memoryUsedMiB"] is None else gpu["memoryUsedMiB"],
            gpu["memoryTotalMiB"],
            "n/a" if gpu["eccUncorrected"] is None else gpu["eccUncorrected"],
            gpu["mig"] or "n/a",
            gpu["busId"],
        )
    monitoring.metric("gpu_count", server=target["name"], count=len(reading["gpus"]))
    used = gpus.memory_used_percent(reading)
    if used is not None:
        monitoring.metric("gpu_memory", server=target["name"], used_percent=used)
    problems = gpus.shortfalls(expected, reading)
    if problems:
        found = gpus.summary(reading)
        raise fail(f"GPUs of server {target['name']} fall short: {'; '.join(problems)} (found {found}).")
    log.info("GPUs of server %s: %s", target["name"], gpus.summary(reading))
    return {**connection, "gpus": gpus.summary(reading)}


def clone_and_checkout_repo(config: dict, target: dict, key_info: dict, connection: dict, repository: dict) -> dict:
    publishing = monitoring.publishes_metrics(config["metrics"])
    return publishing(_clone_and_checkout_repo)(config, target, key_info, repository)


def _clone_and_checkout_repo(config: dict, target: dict, key_info: dict, repository: dict) -> dict:
    import gpu_ssh_utils

    fail = airflow(config).failure
    checkout = checkout_path(target, repository)
    branch_name, url, remote = repository["branch"], repository["url"], repository["remote"]
    where = f"server {target['name']} (repository {repository['name']})"
    remote_ref = f"refs/remotes/{remote}/{branch_name}"
    with connect(target, key_info["fingerprint"], config["ssh"], fail) as ssh:
        started = time.monotonic()
        step = "preparing the workspace"
        try:
            probe = " ".join(
                [
                    gpu_ssh_utils.join_command(["mkdir", "-p", "--", target["workspace_path"]]),
                    "&& if",
                    gpu_ssh_utils.join_command(["test", "-d", f"{checkout}/.git"]),
                    "; then echo fetch; else echo clone; fi",
                ]
            )
            mode = ssh.run(probe).stdout.strip()
            if mode == "clone":
                step = "git clone"
                git(ssh, None, "clone", "--no-checkout", "--origin", remote, "--", url, checkout)
            # Fetching from the configured URL (not the checkout's remote) follows a changed URL.
            step = f"git fetch of branch {branch_name}"
            refspec = f"+refs/heads/{branch_name}:{remote_ref}"
            fetch = git(ssh, checkout, "fetch", "--prune", "--", url, refspec, check=False)
            if fetch.exit_code != 0:
                detail = fetch.stderr.strip()[-600:]
                if "couldn't find remote ref" in fetch.stderr:
                    raise fail(f"Branch {branch_name!r} does not exist in {url} ({where}).")
                raise RuntimeError(f"git fetch failed on {where} (exit {fetch.exit_code}): {detail}")
            step = f"git checkout of branch {branch_name}"
            git(ssh, checkout, "checkout", "-q", "-B", branch_name, remote_ref)
            step = "verifying the checkout"
            branch = git(ssh, checkout, "rev-parse", "--abbrev-ref", "HEAD").stdout.strip()
            shas = git(ssh, checkout, "rev-parse", "HEAD", remote_ref).stdout.split()
            commit, expected = (shas + ["?", "?"])[:2]
        except gpu_ssh_utils.GpuSSHError as exc:
            raise RuntimeError(remote_error(target, f"{step} of repository {repository['name']}", exc)) from None
        git_seconds = round(time.monotonic() - started, 3)
        metrics = ssh.metrics.to_dict()
    if branch != branch_name or commit != expected:
        raise fail(f"Checkout on {where} is on {branch!r} at {commit}, expected {branch_name!r} at {expected}.")
    monitoring.metric(
        "git", server=target["name"], repository=repository["name"], mode=mode, seconds=git_seconds, commit=commit
    )
    return {
        "server": target["name"],
        "repository": repository["name"],
        "mode": mode,
        "branch": branch,
        "commit": commit,
        "git_seconds": git_seconds,
        "ssh": metrics,
    }


def read_version_yaml(config: dict, target: dict, key_info: dict, checkout: dict, repository: dict) -> dict:
    import gpu_ssh_utils

    fail = airflow(config).failure
    version_file, max_bytes = repository["version_file"], repository["version_file_max_bytes"]
    path = f"{checkout_path(target, repository)}/{version_file}"
    where = f"{version_file} of repository {repository['name']} on server {target['name']}"
    where += f" (commit {checkout['commit']})"
    with connect(target, key_info["fingerprint"], config["ssh"], fail) as ssh:
        try:
            text = ssh.read_text(path, max_bytes=max_bytes)
        except gpu_ssh_utils.RemoteFileNotFound:
            raise fail(f"{where} does not exist: the branch must contain {version_file}.") from None
        except gpu_ssh_utils.RemoteFileTooLarge as exc:
            raise fail(
                f"{where} is {exc.size} bytes, over the limit of {max_bytes} bytes (versionFile.maxBytes)."
            ) from None
        except gpu_ssh_utils.RemoteFileTimeout as exc:  # a hung server may recover: retried
            raise RuntimeError(f"{where} cannot be read: {exc}") from None
        except gpu_ssh_utils.RemoteFileError as exc:
            raise fail(f"{where} cannot be read: {exc}") from None
        metrics = ssh.metrics.to_dict()
    try:
        document = read_version_document(text, config["version_file_limits"])
    except VersionFileError as exc:
        raise fail(f"{where} is refused: {exc} (see the README, Variable values).") from None
    try:
        values = check_version_values(document, target["variables"][repository["name"]])
    except ValueError as exc:
        raise fail(f"{where}: {exc}") from None
    log.info("%s holds %s", where, json.dumps(values, sort_keys=True))
    return {
        "server": target["name"],
        "repository": repository["name"],
        "values": values,
        "bytes": len(text.encode()),
        "ssh": metrics,
    }


def update_airflow_variables(
    config: dict, target: dict, connection: dict, checkout: dict, version: dict, repository: dict
) -> dict:
    publishing = monitoring.publishes_metrics(config["metrics"])
    return publishing(_update_airflow_variables)(config, target, connection, checkout, version, repository)


def _update_airflow_variables(
    config: dict, target: dict, connection: dict, checkout: dict, version: dict, repository: dict
) -> dict:
    adapter = airflow(config)
    updated = 0
    variables = target["variables"][repository["name"]]
    for mapping in variables:
        new = variable_text(version["values"][mapping["key"]])
        old = adapter.get_variable(mapping["variable"])
        if old == new:
            log.info("Variable %s unchanged: %r", mapping["variable"], new)
            continue
        adapter.set_variable(mapping["variable"], new)
        updated += 1
        log.info("Variable %s: %r -> %r", mapping["variable"], old, new)
    summary = {
        "server": target["name"],
        "repository": repository["name"],
        "commit": checkout["commit"],
        "git_mode": checkout["mode"],
        "git_seconds": checkout["git_seconds"],
        "ssh_connect_seconds": connection["ssh"]["connect_seconds"],
        # One connection per SSH task; more attempts mean retries after refused/reset connections.
        "ssh_connect_attempts": sum(step["ssh"]["connect_attempts"] for step in (connection, checkout, version)),
        "ssh_commands": sum(step["ssh"]["commands_run"] for step in (connection, checkout, version)),
        "variables_updated": updated,
        "variables_total": len(variables),
    }
    monitoring.metric("variables", **summary)
    return summary


def cleanup_temp_files() -> dict:
    """Always runs (teardown). Tasks keep the key in memory only, so this drops what this process
    cached and checks that no key file of ours is left in this worker's temp directory."""
    import sys
    import tempfile
    from pathlib import Path

    closed = 0
    ssh_utils = sys.modules.get("gpu_ssh_utils")
    if ssh_utils is not None:
        closed = ssh_utils.close_cached_clients()
    secrets_utils = sys.modules.get("aws_secrets_utils")
    if secrets_utils is not None:
        secrets_utils.clear_cache()
    removed = []
    for leftover in Path(tempfile.gettempdir()).glob("gpu-cicd-*"):
        if leftover.is_dir() and not leftover.is_symlink():
            for child in leftover.iterdir():
                child.unlink(missing_ok=True)
            leftover.rmdir()
        else:
            leftover.unlink(missing_ok=True)
        removed.append(leftover.name)
    result = {
        "cached_connections_closed": closed,
        "secret_cache_cleared": secrets_utils is not None,
        "temp_entries_removed": removed,
    }
    log.info("Cleanup: %s", json.dumps(result, sort_keys=True))
    return result


# --------------------------------------------------------------------------- run callbacks


def on_run_success(config: dict, context: dict) -> None:
    monitoring.run_result_metric(config["metrics"], succeeded=True)


def on_run_failure(config: dict, context: dict) -> None:
    """RunSucceeded 0 and one notice naming the failed tasks, their servers and where the logs are."""
    monitoring.run_result_metric(config["metrics"], succeeded=False)
    topic_arn, environment = config["notify_topic_arn"], config["mwaa_environment"]
    if not topic_arn:
        return
    adapter = airflow(config)
    dag_id, run_id = context["dag"].dag_id, context["run_id"]
    try:
        states = adapter.run_task_states(context["dag"], run_id)
    except Exception as exc:  # noqa: BLE001 - the notice goes out even without the task list
        log.warning("Could not list the task states of run %s: %s", run_id, shown(str(exc), 300))
        states = []
    try:
        dag_run = context.get("dag_run")
        params = dict(context.get("params") or {})
        params.update(getattr(dag_run, "conf", None) or {})
        servers = [target["name"] for target in check_inputs(config, params)]
    except Exception:  # noqa: BLE001 - rejected parameters: no server was contacted
        servers = []
    failed = [
        {
            "task_id": task_id,
            "map_index": map_index,
            "server": servers[map_index] if 0 <= map_index < len(servers) else None,
            "log_url": adapter.task_log_url(dag_id, run_id, task_id, map_index),
        }
        for task_id, map_index, state in sorted(states)
        if state.endswith("failed") and not state.endswith("upstream_failed")
    ]
    run = {
        "dag_id": dag_id,
        "run_id": run_id,
        "reason": context.get("reason"),
        "environment": environment,
        "log_group": f"airflow-{environment}-Task",
        "failed": failed,
        "not_run": sum(1 for _, _, state in states if state.endswith("upstream_failed")),
        # What the notice counts once there are too many failed task instances to list.
        "state_counts": monitoring.task_state_counts(states),
    }
    monitoring.send_failure_notice(topic_arn, run)
