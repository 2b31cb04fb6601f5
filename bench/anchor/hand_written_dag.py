# ruff: noqa: F821, S603 -- the bench writes the Airflow imports in; ssh arguments are constants and validated inputs
"""The anchor of bench/dag-parse.ts: the DAG as one would write this job by hand.

Seven classic PythonOperators with their callables in the file, the same task chain as the
generated DAG, and the imports such a file carries (boto3 for Secrets Manager, PyYAML for the
version file, ssh through the OpenSSH client). The bench writes the Airflow imports for the line and
the schedule of the config it compares with (Airflow builds the same timetable for both files).
"""

import json
import logging
import os
import re
import shlex
import subprocess
import tempfile
from datetime import datetime, timedelta

import boto3
import yaml

# <<airflow imports>>

log = logging.getLogger(__name__)

SECRETS_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:gpu-ssh-key"
REPO_URL = "git@github.com:example/gpu-models.git"
BRANCH = "main"
WORKSPACE = "/opt/ci/workspace"
VERSION_FILE = "version.yaml"
SSH_USER = "ubuntu"
HOST_PATTERN = re.compile(r"^[A-Za-z0-9.-]{1,253}$")
SCHEDULE = None


def _ssh(host, key_path, command):
    args = ["ssh", "-i", key_path, "-o", "BatchMode=yes", f"{SSH_USER}@{host}", command]
    return subprocess.run(args, capture_output=True, text=True, timeout=300, check=True).stdout


def validate_inputs(**context):
    params = context["params"]
    if not HOST_PATTERN.match(params["gpu_server_ip"]):
        raise ValueError("gpu_server_ip is not a host name or address")
    if not params["workspace_path"].startswith("/") or params["secrets_arn"] != SECRETS_ARN:
        raise ValueError("workspace_path must be absolute and secrets_arn the configured secret")
    return params["gpu_server_ip"]


def retrieve_ssh_key(**context):
    client = boto3.client("secretsmanager")
    secret = client.get_secret_value(SecretId=SECRETS_ARN)["SecretString"]
    handle, path = tempfile.mkstemp(prefix="gpu-key-")
    with os.fdopen(handle, "w") as key_file:
        key_file.write(json.loads(secret)["private_key"])
    return path


def test_ssh_connection(**context):
    host = context["ti"].xcom_pull(task_ids="validate_inputs")
    key_path = context["ti"].xcom_pull(task_ids="retrieve_ssh_key")
    log.info("connected: %s", _ssh(host, key_path, "echo ok").strip())


def clone_and_checkout_repo(**context):
    host = context["ti"].xcom_pull(task_ids="validate_inputs")
    key_path = context["ti"].xcom_pull(task_ids="retrieve_ssh_key")
    workspace = shlex.quote(WORKSPACE)
    _ssh(
        host,
        key_path,
        f"test -d {workspace}/.git || git clone {shlex.quote(REPO_URL)} {workspace}; "
        f"cd {workspace} && git fetch origin && git checkout {shlex.quote(BRANCH)} && git pull --ff-only",
    )


def read_version_yaml(**context):
    host = context["ti"].xcom_pull(task_ids="validate_inputs")
    key_path = context["ti"].xcom_pull(task_ids="retrieve_ssh_key")
    text = _ssh(host, key_path, f"cat {shlex.quote(WORKSPACE + '/' + VERSION_FILE)}")
    return yaml.safe_load(text)


def update_airflow_variables(**context):
    version = context["ti"].xcom_pull(task_ids="read_version_yaml")
    for key, value in version.items():
        Variable.set(f"gpu_{key}", json.dumps(value))


def cleanup_temp_files(**context):
    key_path = context["ti"].xcom_pull(task_ids="retrieve_ssh_key")
    if key_path and os.path.exists(key_path):
        os.remove(key_path)


with DAG(
    dag_id="hand_written_gpu_cicd",
    schedule=SCHEDULE,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    default_args={"owner": "ci", "retries": 1, "retry_delay": timedelta(minutes=1)},
    # The three inputs the DAG's first task validates (docs: DESIGN, "The workflow").
    params={"gpu_server_ip": "10.0.0.1", "workspace_path": WORKSPACE, "secrets_arn": SECRETS_ARN},
    tags=["gpu", "cicd"],
) as dag:
    tasks = [
        PythonOperator(task_id=callable_.__name__, python_callable=callable_)
        for callable_ in (
            validate_inputs,
            retrieve_ssh_key,
            test_ssh_connection,
            clone_and_checkout_repo,
            read_version_yaml,
            update_airflow_variables,
            cleanup_temp_files,
        )
    ]
    for upstream, downstream in zip(tasks, tasks[1:], strict=False):
        upstream >> downstream
    tasks[-1].trigger_rule = "all_done"
