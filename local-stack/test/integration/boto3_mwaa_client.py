"""Drives the local stack's MWAA API with boto3, unmodified, as a user script would.

Usage: python boto3_mwaa_client.py <endpoint> <region> <environment> <probe dag id>

Every answer goes through botocore's own parser for MWAA; the script prints one JSON document of
what each call returned (or raised), for the TypeScript test to judge.
"""

import json
import os
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

import boto3
import botocore
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError

ENDPOINT, REGION, NAME, PROBE_DAG = sys.argv[1:5]
CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
# One attempt, short timeouts: a wrong answer must show, not be retried away.
BASE = {"connect_timeout": 5, "read_timeout": 30, "retries": {"total_max_attempts": 1}}


def client(config=None):
    return boto3.client("mwaa", endpoint_url=ENDPOINT, region_name=REGION, config=config, **CREDENTIALS)


def error_of(error):
    return {
        "code": error.response["Error"]["Code"],
        "message": error.response["Error"]["Message"],
        "http": error.response["ResponseMetadata"]["HTTPStatusCode"],
        "class": type(error).__name__,
        "members": {k: v for k, v in error.response.items() if k not in ("Error", "ResponseMetadata")},
    }


def attempt(call):
    try:
        out = call()
        out.pop("ResponseMetadata", None)
        return {"ok": out}
    except ClientError as error:
        return {"error": error_of(error)}


def behaviour(**switches):
    if not ENDPOINT.startswith(("http://127.0.0.1:", "https://127.0.0.1:")):
        raise SystemExit(f"not a loopback endpoint: {ENDPOINT}")
    request = urllib.request.Request(  # noqa: S310 - loopback http(s), checked above
        f"{ENDPOINT}/_local/behaviour",
        data=json.dumps(switches).encode(),
        method="POST",
        headers={"content-type": "application/json"},
    )
    # The stack's tooling route, on the API's HTTPS endpoint: trusted through the same bundle as boto3.
    context = ssl.create_default_context(cafile=os.environ.get("AWS_CA_BUNDLE"))
    with urllib.request.urlopen(request, timeout=10, context=context) as answer:  # noqa: S310 - checked above
        return answer.status


def prefix_forms():
    """Which of botocore's switches for MWAA's api./env. host prefixes reach the stack."""
    code = (
        "import boto3, sys\n"
        "from botocore.config import Config\n"
        "c = boto3.client('mwaa', endpoint_url=sys.argv[1], region_name=sys.argv[2],"
        " aws_access_key_id='test', aws_secret_access_key='test',"
        " config=Config(connect_timeout=3, retries={'total_max_attempts': 1}))\n"
        "print(c.list_environments()['Environments'])\n"
    )
    # No AWS setting of this machine, but the stack's CA bundle: it serves HTTPS as MWAA does.
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") or k == "AWS_CA_BUNDLE"}
    results = {}
    with tempfile.NamedTemporaryFile("w", suffix=".ini") as shared:
        shared.write("[default]\ndisable_host_prefix_injection = true\n")
        shared.flush()
        forms = {
            "none": {},
            "env AWS_DISABLE_HOST_PREFIX_INJECTION=true": {"AWS_DISABLE_HOST_PREFIX_INJECTION": "true"},
            "shared config disable_host_prefix_injection = true": {"AWS_CONFIG_FILE": shared.name},
        }
        for label, extra in forms.items():
            run = subprocess.run(  # noqa: S603 - this interpreter and fixed code
                [sys.executable, "-c", code, ENDPOINT, REGION],
                env={**clean, "AWS_CONFIG_FILE": os.devnull, **extra},
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            last = (run.stdout or run.stderr).strip().splitlines()
            results[label] = {"exit": run.returncode, "last": last[-1] if last else ""}
    try:
        client(Config(**BASE, inject_host_prefix=False)).list_environments()
        results["Config(inject_host_prefix=False)"] = {"exit": 0, "last": "ok"}
    except EndpointConnectionError as error:
        results["Config(inject_host_prefix=False)"] = {"exit": 1, "last": str(error)}
    return results


def main():
    mwaa = client(Config(**BASE, inject_host_prefix=False))
    out = {"botocore": botocore.__version__, "boto3": boto3.__version__}
    out["prefix_forms"] = prefix_forms()
    env = attempt(lambda: mwaa.get_environment(Name=NAME))
    if "ok" in env:
        e = env["ok"]["Environment"]
        e["CreatedAt"] = type(e["CreatedAt"]).__name__
        if "LastUpdate" in e:
            e["LastUpdate"]["CreatedAt"] = type(e["LastUpdate"]["CreatedAt"]).__name__
    out["get_environment"] = env
    arn = env["ok"]["Environment"]["Arn"]
    out["list_environments"] = attempt(lambda: mwaa.list_environments())
    pages = mwaa.get_paginator("list_environments").paginate(PaginationConfig={"MaxItems": 100})
    out["list_environments_pages"] = [page["Environments"] for page in pages]
    token = attempt(lambda: mwaa.create_cli_token(Name=NAME))
    out["create_cli_token"] = {"keys": sorted(token.get("ok", token)), **token}
    out["create_cli_token"].get("ok", {}).pop("CliToken", None)
    web = attempt(lambda: mwaa.create_web_login_token(Name=NAME))
    web.get("ok", {}).pop("WebToken", None)
    out["create_web_login_token"] = web

    # The probe DAG shows up once the DAG folder synced and Airflow parsed it.
    deadline = time.monotonic() + 180
    while True:
        dags = attempt(lambda: mwaa.invoke_rest_api(Name=NAME, Path="/dags", Method="GET"))
        ids = [d["dag_id"] for d in dags.get("ok", {}).get("RestApiResponse", {}).get("dags", [])]
        if PROBE_DAG in ids or time.monotonic() > deadline:
            break
        time.sleep(3)
    listing = dags.get("ok", {})
    out["invoke_rest_api_dags"] = {
        "status": listing.get("RestApiStatusCode"),
        "dag_ids": ids,
        "total_entries": listing.get("RestApiResponse", {}).get("total_entries"),
        "raw": dags if "error" in dags else None,
    }
    out["invoke_rest_api_query"] = attempt(
        lambda: mwaa.invoke_rest_api(Name=NAME, Path="/dags", Method="GET", QueryParameters={"limit": 1})
    )
    out["invoke_rest_api_404"] = attempt(
        lambda: mwaa.invoke_rest_api(Name=NAME, Path="/dags/no_such_dag_here", Method="GET")
    )
    out["invoke_rest_api_long_path"] = attempt(
        lambda: mwaa.invoke_rest_api(Name=NAME, Path="/dags/" + "d" * 59, Method="GET")
    )
    out["invoke_rest_api_head"] = attempt(lambda: mwaa.invoke_rest_api(Name=NAME, Path="/dags", Method="HEAD"))
    behaviour(invokeRestApiDenied=True)
    try:
        denied = attempt(lambda: mwaa.invoke_rest_api(Name=NAME, Path="/dags", Method="GET"))
    finally:
        behaviour(invokeRestApiDenied=False)
    error = denied.get("error", {})
    # The exact test of MwaaHook.invoke_rest_api (apache-airflow-providers-amazon 9.34.0).
    denied["mwaa_hook_falls_back"] = error.get("code") == "AccessDeniedException" and "Airflow role" in error.get(
        "message", ""
    )
    out["invoke_rest_api_denied"] = denied
    out["get_environment_unknown"] = attempt(lambda: mwaa.get_environment(Name="no-such-env"))

    out["tag_resource"] = attempt(lambda: mwaa.tag_resource(ResourceArn=arn, Tags={"team": "gpu", "stage": "local"}))
    out["list_tags_after_tag"] = attempt(lambda: mwaa.list_tags_for_resource(ResourceArn=arn))
    out["untag_resource"] = attempt(lambda: mwaa.untag_resource(ResourceArn=arn, tagKeys=["stage"]))
    out["list_tags_after_untag"] = attempt(lambda: mwaa.list_tags_for_resource(ResourceArn=arn))
    out["tags_in_get_environment"] = mwaa.get_environment(Name=NAME)["Environment"].get("Tags")
    out["untag_rest"] = attempt(lambda: mwaa.untag_resource(ResourceArn=arn, tagKeys=["team"]))
    other = arn.rsplit("/", 1)[0] + "/no-such-env"
    out["list_tags_unknown"] = attempt(lambda: mwaa.list_tags_for_resource(ResourceArn=other))

    current = mwaa.get_environment(Name=NAME)["Environment"]
    out["update_environment"] = attempt(
        lambda: mwaa.update_environment(Name=NAME, MaxWorkers=current.get("MaxWorkers", 10))
    )
    deadline = time.monotonic() + 120
    while mwaa.get_environment(Name=NAME)["Environment"]["Status"] == "UPDATING":
        if time.monotonic() > deadline:
            break
        time.sleep(1)
    out["status_after_update"] = mwaa.get_environment(Name=NAME)["Environment"]["Status"]
    out["update_environment_invalid"] = attempt(
        lambda: mwaa.update_environment(Name=NAME, WebserverAccessMode="NOWHERE")
    )
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    main()
