"""The DAG's CloudWatch metrics and failure notices (templates/dag/gpu_cicd_lib/monitoring.py) against the
local stack's moto (CloudWatch, SNS, SQS) and against a closed port: data per METRIC line, batches
within PutMetricData's limits, one call per task, and nothing that fails a task when the endpoint
is unreachable."""

from __future__ import annotations

import json
import logging
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from conftest import AIRFLOW_LINE, free_port
from gpu_cicd_lib import monitoring as lib

# The metric table as the generator passes it (src/config/metrics.ts; test_dag_file checks the DAG).
METRICS = {
    "SshConnectSeconds": {"unit": "Seconds", "item_dimensions": ["Server"]},
    "GitSeconds": {"unit": "Seconds", "item_dimensions": ["Server", "Repository"]},
    "VariablesUpdated": {"unit": "Count", "item_dimensions": ["Server"]},
    "RunSucceeded": {"unit": "Count", "item_dimensions": []},
}
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def settings(namespace: str | None = "GpuCicdTest", environment: str = "test", **extra) -> dict:
    return {
        "namespace": namespace,
        "dimensions": {"Environment": environment},
        "metrics": METRICS,
        "region": "us-east-1",
        **extra,
    }


def dims(datum: dict) -> dict:
    return {d["Name"]: d["Value"] for d in datum["Dimensions"]}


# --------------------------------------------------------------------------- data and batches


def test_each_metric_line_gives_the_environment_datum_and_the_per_item_datum():
    ssh = lib.metric_data("ssh_connect", {"server": "gpu-1", "seconds": 0.25}, settings(), NOW)
    assert [(d["MetricName"], d["Value"], d["Unit"], dims(d)) for d in ssh] == [
        ("SshConnectSeconds", 0.25, "Seconds", {"Environment": "test"}),
        ("SshConnectSeconds", 0.25, "Seconds", {"Environment": "test", "Server": "gpu-1"}),
    ]
    variables = lib.metric_data("variables", {"server": "gpu-1", "variables_updated": 3}, settings(), NOW)
    assert [(d["MetricName"], d["Value"], d["Unit"]) for d in variables] == [("VariablesUpdated", 3.0, "Count")] * 2
    assert lib.metric_data("unknown_line", {"seconds": 1}, settings(), NOW) == []
    assert lib.metric_data("git", {"server": "gpu-1", "seconds": None}, settings(), NOW) == []


def test_git_datum_names_the_repository_and_a_line_without_one_only_its_server():
    named = lib.metric_data("git", {"server": "s", "seconds": 1.5, "repository": "models"}, settings(), NOW)
    assert dims(named[1]) == {"Environment": "test", "Server": "s", "Repository": "models"}
    unnamed = lib.metric_data("git", {"server": "s", "seconds": 1.5, "mode": "clone"}, settings(), NOW)
    assert dims(unnamed[1]) == {"Environment": "test", "Server": "s"}


def test_batches_stay_within_the_call_and_size_limits():
    small = [{"MetricName": "X", "Value": 1.0, "Dimensions": []}] * 2500
    assert [len(b) for b in lib.metric_batches(small)] == [1000, 1000, 500]
    wide = [{"MetricName": "X", "Value": 1.0, "Dimensions": [{"Name": "D", "Value": "v" * 1024}] * 30}] * 40
    batches = lib.metric_batches(wide)
    assert len(batches) > 1
    assert sum(len(b) for b in batches) == 40
    for batch in batches:
        assert sum(2 * len(json.dumps(d)) + 200 for d in batch) <= lib.MAX_REQUEST_BYTES
    assert lib.metric_batches([]) == []


# --------------------------------------------------------------------------- against moto


@pytest.fixture
def cloudwatch_calls(stack, monkeypatch):  # noqa: ARG001 - the stack's endpoint must be set
    """The PutMetricData calls the library makes, counted at botocore's request hook."""
    calls: list[int] = []
    real = lib.aws_client

    def counting(service, region):
        client = real(service, region)
        client.meta.events.register(
            "provide-client-params.cloudwatch.PutMetricData",
            lambda params, **_: calls.append(len(params["MetricData"])),
        )
        return client

    monkeypatch.setattr(lib, "aws_client", counting)
    return calls


def read_back(namespace: str, name: str, dimensions: dict) -> list[float]:
    import boto3

    client = boto3.client("cloudwatch")
    result = client.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "m",
                "MetricStat": {
                    "Metric": {
                        "Namespace": namespace,
                        "MetricName": name,
                        "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
                    },
                    "Period": 60,
                    "Stat": "Sum",
                },
            }
        ],
        StartTime=datetime.now(UTC) - timedelta(minutes=10),
        EndTime=datetime.now(UTC) + timedelta(minutes=10),
    )
    return result["MetricDataResults"][0]["Values"]


def test_a_task_publishes_its_metric_lines_in_one_call_at_its_end(cloudwatch_calls):
    namespace, env = "GpuCicdTest", uuid.uuid4().hex[:8]

    @lib.publishes_metrics(settings(namespace, env))
    def task(server: str) -> str:
        lib.metric("git", server=server, seconds=2.0, repository="models")
        lib.metric("git", server=server, seconds=3.0, repository="tools")
        assert cloudwatch_calls == []  # nothing is sent while the task runs
        return "done"

    assert task("gpu-1") == "done"
    assert task.__name__ == "task"
    assert cloudwatch_calls == [4]
    assert read_back(namespace, "GitSeconds", {"Environment": env}) == [5.0]
    assert read_back(namespace, "GitSeconds", {"Environment": env, "Server": "gpu-1", "Repository": "tools"}) == [3.0]


def test_a_failing_task_still_publishes_and_keeps_its_own_error(cloudwatch_calls):
    namespace, env = "GpuCicdTest", uuid.uuid4().hex[:8]

    @lib.publishes_metrics(settings(namespace, env))
    def task() -> None:
        lib.metric("ssh_connect", server="gpu-1", seconds=0.5)
        raise RuntimeError("the task's own failure")

    with pytest.raises(RuntimeError, match="the task's own failure"):
        task()
    assert cloudwatch_calls == [2]
    assert read_back(namespace, "SshConnectSeconds", {"Environment": env, "Server": "gpu-1"}) == [0.5]


def test_without_a_namespace_nothing_is_sent_and_the_log_line_remains(cloudwatch_calls, caplog):
    @lib.publishes_metrics(settings(None))
    def task() -> None:
        lib.metric("variables", server="gpu-1", variables_updated=1)

    with caplog.at_level(logging.INFO, logger=lib.log.name):
        task()
    assert cloudwatch_calls == []
    assert any(r.getMessage().startswith("METRIC variables ") for r in caplog.records)


def test_run_result_and_failure_notice_reach_cloudwatch_and_an_sqs_subscriber(stack):  # noqa: ARG001
    import boto3

    namespace, env = "GpuCicdTest", uuid.uuid4().hex[:8]
    assert lib.run_result_metric(settings(namespace, env), succeeded=False) == 1
    assert read_back(namespace, "RunSucceeded", {"Environment": env}) == [0.0]

    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name=f"notice-{uuid.uuid4().hex[:8]}")["TopicArn"]
    queue = sqs.create_queue(QueueName=f"notice-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    run = {
        "dag_id": "gpu_server_cicd",
        "run_id": "manual__2026-01-01T00:00:00+00:00",
        "reason": "task_failure",
        "environment": "prod-env",
        "log_group": "airflow-prod-env-Task",
        "failed": [{"task_id": "clone_and_checkout_repo", "map_index": 1, "server": "gpu-2", "log_url": "http://ui/x"}],
        "not_run": 2,
    }
    assert lib.send_failure_notice(topic, run) is True
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=2).get("Messages", [])
    assert len(messages) == 1
    body = json.loads(messages[0]["Body"])
    assert body["Subject"] == "Airflow DAG gpu_server_cicd run failed: 1 failed task(s)"
    text = body["Message"]
    for expected in (
        "Run: manual__2026-01-01T00:00:00+00:00",
        "- clone_and_checkout_repo (map index 1, server gpu-2)",
        "log: http://ui/x",
        "CloudWatch Logs group airflow-prod-env-Task",
        "2 task(s) did not run",
    ):
        assert expected in text


# --------------------------------------------------------------------------- failure notice size

# AWS (SNS Publish): "messages must be UTF-8 encoded strings and at most 256 KB in size (262,144
# bytes, not 262,144 characters)"; message attributes count too (we send none). The subject is
# counted in here as well, so the bound holds however AWS adds it up.
SNS_LIMIT_BYTES = 262_144
WIDE = "\U0001f600"  # 4 bytes of UTF-8; 12 characters once percent-quoted in a log URL


def notice_bytes(subject: str, text: str) -> int:
    return len(subject.encode()) + len(text.encode())


def worst_case_run(failed: int, distinct_tasks: int, not_run: int = 0) -> dict:
    """A failed run with every field as long as it can be: Airflow's 250-character ids, a run id
    of 4-byte characters, 63-character server names, long log URLs and an unbounded reason."""
    from urllib.parse import quote

    dag_id = "d" * 250
    run_id = WIDE * 250
    base = "https://" + "h" * 240 + ".example.com"
    quoted_run = quote(run_id, safe="")
    entries = []
    for index in range(failed):
        task_id = f"task_{index % distinct_tasks}_".ljust(250, "x")
        url = f"{base}/dags/{dag_id}/grid?dag_run_id={quoted_run}&task_id={task_id}&map_index={index}&tab=logs"
        entries.append({"task_id": task_id, "map_index": index, "server": "s" * 63, "log_url": url})
    counts: dict[tuple[str, str], int] = {}
    for entry in entries:
        counts[(entry["task_id"], "failed")] = counts.get((entry["task_id"], "failed"), 0) + 1
    for index in range(not_run):
        key = (f"later_{index % distinct_tasks}_".ljust(250, "y"), "upstream_failed")
        counts[key] = counts.get(key, 0) + 1
    return {
        "dag_id": dag_id,
        "run_id": run_id,
        "reason": "r" * 100_000,
        "environment": "e" * 80,
        "log_group": "airflow-" + "e" * 80 + "-Task",
        "failed": entries,
        "not_run": not_run,
        "state_counts": [[task, state, count] for (task, state), count in sorted(counts.items())],
    }


@pytest.mark.parametrize("distinct_tasks", [1, 7, 5000])
def test_the_failure_notice_always_fits_in_one_sns_message(distinct_tasks):
    worst = 0
    for failed in (0, 1, 50, 51, 1000, 20000):
        subject, text = lib.failure_notice(worst_case_run(failed, distinct_tasks, not_run=failed))
        size = notice_bytes(subject, text)
        assert size <= SNS_LIMIT_BYTES, f"{failed} failed tasks: {size} bytes"
        assert len(subject) < 100
        worst = max(worst, size)
    sys.stderr.write(f"failure notice, {distinct_tasks} distinct task(s): largest {worst} bytes of {SNS_LIMIT_BYTES}\n")


def test_the_notice_lists_the_first_failed_tasks_then_counts_every_task_and_state():
    listed = lib.NOTICE_LISTED_TASKS
    run = worst_case_run(5000, 7, not_run=300)
    subject, text = lib.failure_notice(run)
    assert subject.endswith("5000 failed task(s)")
    assert sum(1 for line in text.splitlines() if line.startswith("- task_")) == listed
    assert f"... and {5000 - listed} more failed task instance(s)" in text
    summary = text[text.index("Task instances by task and state:") :]
    counted = {}
    for line in summary.splitlines()[1:]:
        if not line.startswith("  "):
            break
        task, _, rest = line.strip().rpartition(": ")
        number, state = rest.split(" ", 1)
        counted[(task, state)] = int(number)
    assert sum(n for (_, state), n in counted.items() if state == "failed") == 5000
    assert sum(n for (_, state), n in counted.items() if state == "upstream_failed") == 300
    # A run with few failures lists them all and needs no summary.
    small = worst_case_run(3, 7)
    _, short = lib.failure_notice(small)
    assert sum(1 for line in short.splitlines() if line.startswith("- task_")) == 3
    assert "by task and state" not in short


def test_a_notice_over_the_limit_keeps_whole_lines_and_says_it_was_cut():
    text = "".join(f"line {i} {WIDE}\n" for i in range(100_000))
    fitted = lib.fit_bytes(text, 10_000)
    assert len(fitted.encode()) <= 10_000
    assert fitted.endswith(lib.NOTICE_CUT + "\n")
    assert all(line.startswith("line ") and line.endswith(WIDE) for line in fitted.splitlines()[:-1])
    assert lib.fit_bytes("short\n", 10_000) == "short\n"


def test_a_fleet_wide_failure_notice_reaches_an_sqs_subscriber(stack):  # noqa: ARG001
    import boto3

    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name=f"notice-{uuid.uuid4().hex[:8]}")["TopicArn"]
    queue = sqs.create_queue(QueueName=f"notice-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    # 5,000 servers, each with its clone failed: the outage the notice exists for.
    run = worst_case_run(5000, 1, not_run=5000 * 3)
    assert lib.send_failure_notice(topic, run) is True
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=2).get("Messages", [])
    assert len(messages) == 1
    body = json.loads(messages[0]["Body"])
    assert body["Subject"].endswith("5000 failed task(s)")
    assert notice_bytes(body["Subject"], body["Message"]) <= SNS_LIMIT_BYTES
    assert ": 5000 failed" in body["Message"]


def test_the_dags_failure_callback_notifies_about_thousands_of_failed_task_instances(dagbag, stack, monkeypatch):  # noqa: ARG001
    """The callback of the DAG file as Airflow loads it, told of a run in which 3,000 servers failed
    their clone and the 6,000 tasks after it never ran (the task states come from the metadata DB)."""
    import boto3

    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name=f"notice-{uuid.uuid4().hex[:8]}")["TopicArn"]
    queue = sqs.create_queue(QueueName=f"notice-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)

    dag = dagbag.get_dag("gpu_server_cicd_workflow")
    callbacks = dag.on_failure_callback if isinstance(dag.on_failure_callback, list) else [dag.on_failure_callback]
    (callback,) = callbacks
    servers = 3000
    states = [("clone_and_checkout_repo", i, "failed") for i in range(servers)]
    states += [
        (task, i, "upstream_failed")
        for task in ("read_version_yaml", "update_airflow_variables")
        for i in range(servers)
    ]
    states += [("validate_inputs", -1, "success"), ("retrieve_ssh_key", -1, "success")]
    # The callback's library, as the callback imports it (the DAG folder is on sys.path, as in
    # every Airflow process that runs callbacks), told the task states the metadata DB would give.
    monkeypatch.setitem(callback.__globals__["CONFIG"], "notify_topic_arn", topic)
    adapter = callback.__globals__["library"]().airflow(callback.__globals__["CONFIG"])
    assert adapter.__name__.endswith(f".airflow{AIRFLOW_LINE}")
    monkeypatch.setattr(adapter, "run_task_states", lambda _dag, _run_id: states)
    callback({"dag": dag, "run_id": "manual__fleet_outage", "reason": "task_failure", "params": {}})

    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=2).get("Messages", [])
    assert len(messages) == 1
    body = json.loads(messages[0]["Body"])
    assert body["Subject"] == f"Airflow DAG gpu_server_cicd_workflow run failed: {servers} failed task(s)"
    size = notice_bytes(body["Subject"], body["Message"])
    assert size <= SNS_LIMIT_BYTES
    text = body["Message"]
    assert f"  clone_and_checkout_repo: {servers} failed" in text
    assert f"  read_version_yaml: {servers} upstream_failed" in text
    assert "  validate_inputs: 1 success" in text
    assert f"{servers * 2} task(s) did not run" in text
    sys.stderr.write(f"failure notice of the DAG for {servers} failed servers: {size} bytes\n")


# --------------------------------------------------------------------------- unreachable endpoint


def test_an_unreachable_endpoint_costs_seconds_and_fails_nothing(stack, monkeypatch, caplog):  # noqa: ARG001
    port = free_port()  # bound then closed: connections are refused
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")

    @lib.publishes_metrics(settings("GpuCicdTest"))
    def task() -> str:
        lib.metric("ssh_connect", server="gpu-1", seconds=0.5)
        return "ok"

    started = time.monotonic()
    with caplog.at_level(logging.INFO, logger=lib.log.name):
        assert task() == "ok"
        metric_seconds = time.monotonic() - started
        assert lib.run_result_metric(settings("GpuCicdTest"), succeeded=True) == 0
        started = time.monotonic()
        assert lib.send_failure_notice("arn:aws:sns:us-east-1:123456789012:t", {**_RUN}) is False
        notice_seconds = time.monotonic() - started
    sys.stderr.write(f"unreachable endpoint: metrics {metric_seconds:.2f} s, notice {notice_seconds:.2f} s\n")
    assert metric_seconds < 10
    assert notice_seconds < 10
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("METRIC ssh_connect ") for m in messages)
    assert any(m.startswith("CloudWatch metrics not published (0 of 2 data sent)") for m in messages)
    assert any(m.startswith("Failure notice not sent to ") for m in messages)


_RUN = {
    "dag_id": "d",
    "run_id": "r",
    "reason": None,
    "environment": "e",
    "log_group": "airflow-e-Task",
    "failed": [],
    "not_run": 0,
}
