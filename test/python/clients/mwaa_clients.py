"""MWAA clients we did not write, driven against the local stack as their users drive them.

Configured only the way AWS documents: nothing here names an endpoint, a CA or a credential; the
caller runs this after `eval "$(node dist/cli.js local env)"` (AWS_ENDPOINT_URL_MWAA,
AWS_CA_BUNDLE, REQUESTS_CA_BUNDLE, AWS_DISABLE_HOST_PREFIX_INJECTION, dummy keys, the region).
Nothing is patched. Each command prints one JSON document of what the clients returned or raised,
for test/integration/third-party-clients.test.ts to judge.

Usage:
  mwaa_clients.py boto3 <env> <dag id>
  mwaa_clients.py hook <env> <dag id> <airflow line> <run id prefix>
  mwaa_clients.py trigger-and-wait <env> <waiting dag id> <conf json> <deadline seconds>
  mwaa_clients.py run-state <env> <dag id> <run id>
"""

import base64
import json
import sys
import time
from datetime import UTC, datetime, timedelta

# Bounds on every call this script makes itself (the clients' own calls keep their own).
HTTP_TIMEOUT = 60


def boto3_as_a_user_script(env_name, dag_id):
    """A user's script: boto3 and requests, the CLI call as AWS's user guide shows it."""
    import boto3
    import requests
    from botocore.exceptions import ClientError

    mwaa = boto3.client("mwaa")
    out = {}
    environment = mwaa.get_environment(Name=env_name)["Environment"]
    out["get_environment"] = {k: environment[k] for k in ("Name", "Status", "AirflowVersion", "WebserverUrl")}
    token = mwaa.create_cli_token(Name=env_name)
    answer = requests.post(
        f"https://{token['WebServerHostname']}/aws_mwaa/cli",
        headers={"Authorization": f"Bearer {token['CliToken']}", "Content-Type": "text/plain"},
        data="dags list -o json",
        timeout=HTTP_TIMEOUT,
    )
    body = answer.json()
    out["cli"] = {
        "status": answer.status_code,
        "keys": sorted(body),
        "stdout": base64.b64decode(body["stdout"]).decode(),
        "stderr": base64.b64decode(body["stderr"]).decode(),
    }
    query = {"dag_id_pattern": dag_id}
    listing = mwaa.invoke_rest_api(Name=env_name, Path="/dags", Method="GET", QueryParameters=query)
    out["invoke_rest_api"] = {
        "status": listing["RestApiStatusCode"],
        "dag_ids": [d["dag_id"] for d in listing["RestApiResponse"]["dags"]],
    }
    try:
        mwaa.invoke_rest_api(Name=env_name, Path=f"/dags/{dag_id}/dagRuns/no-such-run", Method="GET")
        out["invoke_rest_api_404"] = "answered"
    except ClientError as error:
        out["invoke_rest_api_404"] = {
            "code": error.response["Error"]["Code"],
            "status": error.response.get("RestApiStatusCode"),
        }
    return out


def _hook():
    from airflow.providers.amazon.aws.hooks.mwaa import MwaaHook

    # aws_conn_id=None: boto3's own configuration (the environment), as on an MWAA worker whose
    # execution role supplies the credentials.
    return MwaaHook(aws_conn_id=None)


def _dag_ids(answer):
    return [d["dag_id"] for d in answer["RestApiResponse"]["dags"]]


def mwaa_hook(env_name, dag_id, line, prefix):
    """Apache's MwaaHook: InvokeRestApi (its default path) and the web login (generate_local_token)."""
    from botocore.exceptions import ClientError

    hook = _hook()
    version = int(line)
    out = {}
    query = {"dag_id_pattern": dag_id}
    listed = hook.invoke_rest_api(env_name=env_name, path="/dags", method="GET", query_params=query)
    out["list_invoke_rest_api"] = {"status": listed["RestApiStatusCode"], "dag_ids": _dag_ids(listed)}
    listed = hook.invoke_rest_api(
        env_name=env_name,
        path="/dags",
        method="GET",
        query_params=query,
        generate_local_token=True,
        airflow_version=version,
    )
    out["list_web_login"] = {"status": listed["RestApiStatusCode"], "dag_ids": _dag_ids(listed)}

    # Airflow 3 requires logical_date (it may be null); distinct dates keep 2.x's unique key apart.
    now = datetime.now(UTC).replace(microsecond=0)
    runs = {}
    for offset, (how, local) in enumerate((("invoke_rest_api", False), ("web_login", True))):
        run_id = f"{prefix}-{how.replace('_', '')[:8]}"
        body = {"dag_run_id": run_id, "logical_date": (now - timedelta(seconds=offset + 1)).isoformat()}
        made = hook.invoke_rest_api(
            env_name=env_name,
            path=f"/dags/{dag_id}/dagRuns",
            method="POST",
            body=body,
            generate_local_token=local,
            airflow_version=version,
        )
        runs[how] = run_id
        out[f"trigger_{how}"] = {
            "status": made["RestApiStatusCode"],
            "dag_run_id": made["RestApiResponse"]["dag_run_id"],
            "state": made["RestApiResponse"]["state"],
        }
    # Airflow's own API has each run; then they go again, so that they do not hold the DAG's one
    # active run (max_active_runs) that the operator's run needs next.
    for how, run_id in runs.items():
        path = f"/dags/{dag_id}/dagRuns/{run_id}"
        got = hook.invoke_rest_api(env_name=env_name, path=path, method="GET")
        out[f"get_{how}"] = {"status": got["RestApiStatusCode"], "dag_run_id": got["RestApiResponse"]["dag_run_id"]}
        gone = hook.invoke_rest_api(env_name=env_name, path=path, method="DELETE")
        out[f"delete_{how}"] = {"status": gone["RestApiStatusCode"]}
        try:
            hook.invoke_rest_api(env_name=env_name, path=path, method="GET")
            out[f"after_delete_{how}"] = "still there"
        except ClientError as error:
            out[f"after_delete_{how}"] = {
                "code": error.response["Error"]["Code"],
                "status": error.response.get("RestApiStatusCode"),
            }

    # What MwaaTriggerDagRunOperator polls with a default run id: longer than InvokeRestApi's Path allows.
    default_run_id = f"manual__{now.isoformat()}"
    long_path = f"/dags/{dag_id}/dagRuns/{default_run_id}"
    try:
        hook.invoke_rest_api(env_name=env_name, path=long_path, method="GET")
        out["long_path"] = {"length": len(long_path), "answered": True}
    except ClientError as error:
        # (MwaaHook logs the error and drops its ResponseMetadata before it raises it again.)
        out["long_path"] = {
            "length": len(long_path),
            "code": error.response["Error"]["Code"],
            "message": error.response["Error"]["Message"],
        }
    return out


def run_state(env_name, dag_id, run_id):
    got = _hook().invoke_rest_api(env_name=env_name, path=f"/dags/{dag_id}/dagRuns/{run_id}", method="GET")
    answer = got["RestApiResponse"]
    return {"status": got["RestApiStatusCode"], "dag_run_id": answer["dag_run_id"], "state": answer["state"]}


def trigger_and_wait(env_name, waiting_dag, conf_json, deadline_seconds):
    """Triggers the DAG that runs MwaaTriggerDagRunOperator, and waits (bounded) for its end."""
    hook = _hook()
    conf = json.loads(conf_json)
    run_id = f"{conf['run_id']}-w"
    hook.invoke_rest_api(
        env_name=env_name,
        path=f"/dags/{waiting_dag}/dagRuns",
        method="POST",
        body={"dag_run_id": run_id, "logical_date": conf["logical_date"], "conf": conf},
    )
    deadline = time.monotonic() + float(deadline_seconds)
    polls = 0
    while True:
        polls += 1
        state = run_state(env_name, waiting_dag, run_id)
        if state["state"] in ("success", "failed") or time.monotonic() > deadline:
            return {**state, "polls": polls}
        time.sleep(2)


def main(argv):
    command, args = argv[1], argv[2:]
    commands = {
        "boto3": boto3_as_a_user_script,
        "hook": mwaa_hook,
        "trigger-and-wait": trigger_and_wait,
        "run-state": run_state,
    }
    if command not in commands:
        raise SystemExit(f"unknown command {command!r}: one of {', '.join(commands)}")
    print(json.dumps(commands[command](*args)))


if __name__ == "__main__":
    main(sys.argv)
