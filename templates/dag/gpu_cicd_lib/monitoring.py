"""CloudWatch metrics from METRIC log lines and the SNS notice about a failed run. Neither ever
fails a task or a callback: an unreachable endpoint costs a warning."""

from __future__ import annotations

import json
import math

from .common import log, shown

# Which METRIC log line feeds which CloudWatch metric, and the field that holds its value. Units and
# per-item dimensions come from the config's metric table (src/config/metrics.ts) as `metrics`.
METRIC_LINES = {
    "ssh_connect": ("SshConnectSeconds", "seconds"),
    "git": ("GitSeconds", "seconds"),
    "variables": ("VariablesUpdated", "variables_updated"),
    "gpu_count": ("GpuCount", "count"),
    "gpu_memory": ("GpuMemoryUsedPercent", "used_percent"),
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
