"""The DAG library (templates/dag/gpu_cicd_lib/), imported as it is: the version file reader against
the corpus the runtime check also runs, its bounds, the run-parameter checks and the Variable text.
The generator ships these same bytes beside the DAG (test_dag_folder checks that)."""

from __future__ import annotations

import json
import math
import subprocess
import time
import tracemalloc

import pytest
from conftest import REPO
from gpu_cicd_lib import common, params, version_file

CORPUS = json.loads((REPO / "test" / "fixtures" / "version-yaml-corpus.json").read_text())
LIMITS = CORPUS["limits"]


def typed(value):
    """The corpus's typed JSON: integers and floats carry their exact text."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return {"int": str(value)}
    if isinstance(value, float):
        if math.isnan(value):
            return {"float": "nan"}
        if math.isinf(value):
            return {"float": "inf" if value > 0 else "-inf"}
        return {"float": version_file.variable_text(value)}
    if isinstance(value, list):
        return [typed(item) for item in value]
    return {key: typed(item) for key, item in value.items()}


@pytest.mark.parametrize("case", CORPUS["cases"], ids=[case["id"] for case in CORPUS["cases"]])
def test_version_corpus_reads_as_the_runtime_check_reads_it(case):
    if case["expect"] == "refused":
        with pytest.raises(version_file.VersionFileError) as refused:
            version_file.read_version_document(case["yaml"], LIMITS)
        assert case.get("reason", "") in str(refused.value)
    else:
        assert typed(version_file.read_version_document(case["yaml"], LIMITS)) == case["expect"]


def test_the_corpus_covers_the_known_disagreements():
    ids = {case["id"] for case in CORPUS["cases"]}
    assert len(ids) == len(CORPUS["cases"]) >= 60
    for needed in (
        "y-n-are-strings",
        "exp-without-dot",
        "exp-without-sign",
        "exp-fraction",
        "big-int",
        "duplicate-keys",
        "equals-value",
        "tag-float",
        "alias-bomb",
        "deep-5000",
    ):
        assert needed in ids


# A 400-byte file whose aliases share references: a repr() of it would be 9**6 items long.
BOMB = (
    "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
)


def test_an_alias_bomb_is_refused_at_once_without_memory():
    assert len(BOMB) <= 400
    tracemalloc.start()
    started = time.monotonic()
    with pytest.raises(version_file.VersionFileError, match="more than 10 aliases"):
        version_file.read_version_document(BOMB, LIMITS)
    seconds = time.monotonic() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert seconds < 1.0 and peak < 5_000_000, (seconds, peak)


def test_deep_nesting_is_a_bad_file_not_a_recursion_error():
    for text in ("[" * 5000 + "]" * 5000, "a: " + "{b: " * 3000 + "1" + "}" * 3000):
        with pytest.raises(version_file.VersionFileError, match="nested more than 32 levels deep"):
            version_file.read_version_document(text, LIMITS)


def test_shown_is_bounded_for_shared_and_deep_values():
    shared = ["x"] * 9
    for _ in range(6):
        shared = [shared] * 9
    deep: list = []
    for _ in range(5000):
        deep = [deep]
    started = time.monotonic()
    for value in (shared, deep, "y" * 10_000, {str(i): i for i in range(10_000)}):
        assert len(common.shown(value)) <= 80
    assert time.monotonic() - started < 0.5


# --------------------------------------------------------------------------- run parameters

SERVERS = [
    {"name": "gpu-a", "host": "10.0.0.1", "port": 22, "user": "u", "workspace_path": "/w", "host_public_key": "k"},
    {"name": "gpu-b", "host": "10.0.0.1", "port": 22, "user": "u", "workspace_path": "/w", "host_public_key": "k"},
    {"name": "gpu-c", "host": "gpu-a", "port": 22, "user": "u", "workspace_path": "/w", "host_public_key": "k"},
]
ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:gpu-server-ssh-key-AbCdEf"
WORKSPACE = r"^(?=.{1,1024}$)(?:/|(?:/(?!\.\.?(?:/|$))[A-Za-z0-9._-]+)+/?)$"


def select(**run_params):
    base = {"gpu_server_ip": "all", "workspace_path": "", "secrets_arn": ARN}
    return params.select_targets(
        {**base, **run_params},
        servers=[{**server, "variables": []} for server in SERVERS],
        server_choices=["all", "gpu-a", "gpu-b", "gpu-c", "10.0.0.1"],
        all_servers="all",
        secret_arns=[ARN],
        workspace_pattern=WORKSPACE,
    )


def test_a_server_name_selects_that_server_only_even_when_it_is_another_servers_host():
    assert [t["name"] for t in select(gpu_server_ip="gpu-a")] == ["gpu-a"]
    assert [t["name"] for t in select(gpu_server_ip="10.0.0.1")] == ["gpu-a", "gpu-b"]
    assert [t["name"] for t in select(gpu_server_ip="all")] == ["gpu-a", "gpu-b", "gpu-c"]


def test_only_the_configured_secret_and_clean_workspaces_are_accepted():
    other = ARN.replace("gpu-server-ssh-key", "someone-elses-secret")
    with pytest.raises(params.InputError, match=r"^secrets_arn: .* is not the configured SSH key secret"):
        select(secrets_arn=other)
    for workspace in ("/home/ubuntu/./ws", "/home//ws", "/a/../b", "relative", "/a\n"):
        with pytest.raises(params.InputError, match=r"^workspace_path: "):
            select(workspace_path=workspace)
    target = select(workspace_path="/srv/ws/")[0]
    assert params.checkout_path(target, {"checkout_dir": "cicd-test"}) == "/srv/ws/cicd-test"
    assert params.checkout_path(target, {"checkout_dir": "repos/etl"}) == "/srv/ws/repos/etl"
    assert params.checkout_path(select(workspace_path="/")[0], {"checkout_dir": "cicd-test"}) == "/cicd-test"


# --------------------------------------------------------------------------- values


def test_variable_values_are_written_as_javascript_would():
    """The runtime check (TypeScript) compares Variables with String(value): same text here."""
    numbers = [0, 7, -3, 2**40, 1.5, 1.0, -2.0, 0.1, 1 / 3, 2.5e-6, 1e-7, 1e16, 1e21, 1.5e300, -4.2e-9, -0.0]
    script = "const v = JSON.parse(process.argv[1]); process.stdout.write(JSON.stringify(v.map(String)));"
    js = json.loads(
        subprocess.run(["node", "-e", script, json.dumps(numbers)], capture_output=True, text=True, check=True).stdout
    )
    assert [version_file.variable_text(n) for n in numbers] == js
    assert version_file.variable_text(True) == "true" and version_file.variable_text(False) == "false"
    assert version_file.variable_text("1.0.0") == "1.0.0"
    assert version_file.variable_text(12345678901234567890123) == "12345678901234567890123"


def test_version_values_are_type_checked_with_every_problem_named():
    mappings = [
        {"key": "a", "type": "string"},
        {"key": "b", "type": "integer"},
        {"key": "c", "type": "boolean"},
        {"key": "d", "type": "number"},
        {"key": "e", "type": "scalar"},
    ]
    good = {"a": "x", "b": 2, "c": False, "d": 1.5, "e": "y", "extra": [1]}
    assert version_file.check_version_values(good, mappings) == {"a": "x", "b": 2, "c": False, "d": 1.5, "e": "y"}
    with pytest.raises(ValueError) as problem:
        version_file.check_version_values({"a": 1, "b": 2.5, "c": "yes", "d": float("nan"), "e": {"x": 1}}, mappings)
    for fragment in (
        '"a" should be a string',
        '"b" should be an integer',
        '"c" should be a boolean',
        '"d" should be a number',
        '"e" should be a scalar',
    ):
        assert fragment in str(problem.value)
    with pytest.raises(ValueError, match="expected a mapping of keys to values, found a list"):
        version_file.check_version_values([1, 2], mappings)


# --------------------------------------------------------------------------- Airflow adapters


def test_the_adapter_of_this_airflow_line_fails_tasks_without_retries_and_links_their_logs():
    """tasks.airflow picks the adapter by the line the DAG was generated for; the adapter's names
    are the ones this Airflow has (every import inside a function, so both modules import anywhere)."""
    from conftest import AIRFLOW_LINE
    from gpu_cicd_lib import airflow2, airflow3, tasks

    adapter = tasks.airflow({"airflow_line": AIRFLOW_LINE})
    assert adapter is {"2": airflow2, "3": airflow3}[AIRFLOW_LINE]
    assert [name for name in dir(airflow2) if not name.startswith("_")] == [
        name for name in dir(airflow3) if not name.startswith("_")
    ]
    error = adapter.failure("workspace_path: refused")
    assert type(error).__name__ == "AirflowFailException" and str(error) == "workspace_path: refused"
    url = adapter.task_log_url("d", "manual__2026-01-01T00:00:00+00:00", "clone_and_checkout_repo", 2)
    assert "manual__2026-01-01T00%3A00%3A00%2B00%3A00" in url and "clone_and_checkout_repo" in url
    assert ("map_index=2" if AIRFLOW_LINE == "2" else "/mapped/2") in url
