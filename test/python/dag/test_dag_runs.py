"""Real DAG runs (dag.test, in this process) against the local stack's sshd, moto and git repo."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import TASK_ORDER, run_dag

SENTINEL = "unchanged-sentinel"


def get_variable(key: str):
    # The metadata-DB model (this test process has DB access on both lines).
    from airflow.models import Variable

    return Variable.get(key, default_var=None)


def set_variable(key: str, value: str) -> None:
    from airflow.models import Variable

    Variable.set(key, value)


def expected_values(stack) -> dict:
    """version.yaml of the stack's branch, read straight from the bare repo."""
    text = subprocess.run(
        ["git", "--git-dir", stack["git"]["remoteUrl"], "show", f"{stack['git']['branch']}:www/version.yaml"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    document = yaml.safe_load(text)
    return {key: document[key] for key in ("a", "b", "c", "d")}


def as_variable_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def conf(stack, workspace: str, **extra) -> dict:
    return {
        "gpu_server_ip": stack["ssh"]["host"],
        "workspace_path": workspace,
        "secrets_arn": stack["secretArn"],
        **extra,
    }


def test_full_run_sets_the_variables_and_the_second_run_updates_incrementally(dagbag, stack, workspace):
    dag = dagbag.get_dag("gpu_server_cicd_workflow")
    for key in "abcd":
        set_variable(key, SENTINEL)

    first = run_dag(dag, conf(stack, workspace))
    assert first.state == "success", (first.tis, first.log[-4000:])
    assert all(state == "success" for state in first.tis.values()), first.tis
    values = expected_values(stack)
    for key, value in values.items():
        assert get_variable(key) == as_variable_text(value), key
    checkout = first.result("clone_and_checkout_repo")
    assert checkout["mode"] == "clone"
    assert checkout["branch"] == stack["git"]["branch"]
    head = subprocess.run(
        ["git", "-C", f"{workspace}/cicd-test", "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert checkout["commit"] == head
    summary = first.result("update_airflow_variables")
    assert summary["variables_updated"] == 4
    assert summary["ssh_connect_seconds"] > 0
    assert summary["git_seconds"] > 0
    assert "METRIC ssh_connect" in first.log and "METRIC git" in first.log and "METRIC variables" in first.log
    # The one repository of the git shorthand is named "repo" in the METRIC lines.
    assert any('"repository": "repo"' in line for line in first.log.splitlines() if "METRIC git " in line)
    key_info = first.result("retrieve_ssh_key")
    assert key_info["fingerprint"].startswith("SHA256:")
    assert first.result("test_ssh_connection")["whoami"] == stack["ssh"]["user"]
    assert first.result("read_version_yaml")["values"] == values

    second = run_dag(dag, conf(stack, workspace))
    assert second.state == "success", (second.tis, second.log[-4000:])
    assert second.result("clone_and_checkout_repo")["mode"] == "fetch"
    assert second.result("update_airflow_variables")["variables_updated"] == 0
    assert "unchanged" in second.log


# --------------------------------------------------------------------------- failures

FAILURES = [
    # id, dag id, conf changes, failed task, message fragments
    ("wrong-host-key", "t_badhostkey", {}, "test_ssh_connection", ["refused", "does not match the pinned key"]),
    ("sshd-down", "t_down", {}, "test_ssh_connection", ["Could not connect"]),
    (
        "secret-missing",
        "t_missingsecret",
        {},
        "retrieve_ssh_key",
        ["Could not read the SSH key secret", "dagtest-no-such-secret"],
    ),
    (
        "access-denied",
        "t_deniedsecret",
        {},
        "retrieve_ssh_key",
        ["Could not read the SSH key secret", "Access denied", "secretsmanager:GetSecretValue"],
    ),
    ("branch-missing", "t_nobranch", {}, "clone_and_checkout_repo", ["Branch 't-no-such-branch' does not exist"]),
    ("version-file-missing", "t_vf_missing", {}, "read_version_yaml", ["www/version.yaml", "does not exist"]),
    ("version-file-not-a-mapping", "t_vf_list", {}, "read_version_yaml", ["expected a mapping", "list"]),
    ("version-file-oversized", "t_vf_big", {}, "read_version_yaml", ["over the limit of 65536 bytes"]),
    ("version-file-python-tag", "t_vf_pytag", {}, "read_version_yaml", ["is refused", "python/object"]),
    ("version-file-alias-bomb", "t_vf_bomb", {}, "read_version_yaml", ["www/version.yaml", "more than 10 aliases"]),
    (
        "version-file-too-deep",
        "t_vf_deep",
        {},
        "read_version_yaml",
        ["www/version.yaml", "nested more than 32 levels deep"],
    ),
    ("version-file-missing-key", "t_vf_missing_key", {}, "read_version_yaml", ['missing key "c"', 'missing key "d"']),
]


@pytest.fixture
def access_denied_endpoint():
    """Secrets Manager's wire answer to a caller without secretsmanager:GetSecretValue."""
    import json
    import os
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Deny(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = json.dumps(
                {
                    "__type": "AccessDeniedException",
                    "Message": "User: arn:aws:sts::123456789012:"
                    "assumed-role/mwaa-exec/x is not authorized to perform: "
                    "secretsmanager:GetSecretValue",
                }
            ).encode()
            self.send_response(400)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("x-amzn-RequestId", "dagtest-denied")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Deny)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    os.environ["AWS_ENDPOINT_URL_SECRETS_MANAGER"] = f"http://127.0.0.1:{server.server_port}"
    yield
    del os.environ["AWS_ENDPOINT_URL_SECRETS_MANAGER"]
    server.shutdown()


def key_files_in(directory: Path, key_text: str) -> list[str]:
    from conftest import key_fragments

    fragments = key_fragments(key_text)
    found = []
    for path in directory.rglob("*"):
        if path.is_file():
            try:
                text = path.read_text(errors="replace")
            except OSError:
                continue
            if "PRIVATE KEY" in text or any(fragment in text for fragment in fragments):
                found.append(str(path))
    return found


@pytest.mark.parametrize(
    ("case", "dag_id", "changes", "failed_task", "fragments"), FAILURES, ids=[f[0] for f in FAILURES]
)
def test_failure_ends_failed_at_the_right_task(
    request, dagbag, stack, workspace, session_tmp, private_key_text, case, dag_id, changes, failed_task, fragments
):
    if case == "access-denied":
        request.getfixturevalue("access_denied_endpoint")
    dag = dagbag.get_dag(dag_id)
    for key in "abcd":
        set_variable(key, SENTINEL)
    run = run_dag(dag, {**dag.params, "workspace_path": workspace, **changes})
    assert run.state == "failed", run.tis
    assert run.failed_tasks() == [failed_task], run.tis
    message = "\n".join(line for line in run.log.splitlines() if "Exception" in line or "Error" in line)
    for fragment in fragments:
        assert fragment in run.log, (fragment, message[-3000:])
    later = {
        "validate_inputs": 1,
        "retrieve_ssh_key": 2,
        "test_ssh_connection": 3,
        "clone_and_checkout_repo": 4,
        "read_version_yaml": 5,
    }[failed_task]
    order = TASK_ORDER[:-1]  # cleanup_temp_files, the teardown, runs whatever failed
    for task_id in order[later:]:
        assert run.task_state(task_id) in ("upstream_failed", None), (task_id, run.tis)
    expected_cleanup = "upstream_failed" if failed_task == "validate_inputs" else "success"
    assert run.task_state("cleanup_temp_files") == expected_cleanup, run.tis
    for key in "abcd":
        assert get_variable(key) == SENTINEL, key
    assert key_files_in(session_tmp, private_key_text) == []
    if dag_id in ("t_vf_bomb", "t_vf_deep"):
        # Refused at once (AirflowFailException), although the variant allows a retry.
        assert run.extra["tries"][(failed_task, 0)] == 1, run.extra
        assert "RecursionError" not in run.log


def test_one_server_failing_does_not_stop_the_others(dagbag, stack):
    from conftest import CANARY  # noqa: F401 - imported to make sure the module-level names exist

    dag = dagbag.get_dag("t_multi")
    run = run_dag(dag, {})
    assert run.state == "failed", run.tis
    for index in (0, 1):
        for task_id in (
            "test_ssh_connection",
            "clone_and_checkout_repo",
            "read_version_yaml",
            "update_airflow_variables",
        ):
            assert run.task_state(task_id, index) == "success", (task_id, index, run.tis)
    assert run.task_state("test_ssh_connection", 2) == "failed"
    assert run.task_state("update_airflow_variables", 2) == "upstream_failed"
    assert run.task_state("cleanup_temp_files") == "success"
    values = expected_values(stack)
    for server in ("gpu-01", "gpu-02"):
        for key, value in values.items():
            assert get_variable(f"{server}__{key}") == as_variable_text(value)
    assert get_variable("gpu-03__a") is None
    assert {run.result("update_airflow_variables", i)["server"] for i in (0, 1)} == {"gpu-01", "gpu-02"}
    for server in ("multi-01", "multi-02"):
        shutil.rmtree(Path(stack["workspace"]) / server, ignore_errors=True)


def test_a_failing_repository_fails_only_its_own_tasks(dagbag, stack):
    dag = dagbag.get_dag("t_tworepos")
    assert dag.max_active_tasks == 4
    run = run_dag(dag, {})
    assert run.state == "failed", run.tis
    for index in (0, 1):
        for task_id in ("test_ssh_connection", "clone_good", "read_version_good", "update_variables_good"):
            assert run.task_state(task_id, index) == "success", (task_id, index, run.tis)
        assert run.task_state("clone_code-only", index) == "success", run.tis
        assert run.task_state("clone_broken", index) == "failed", run.tis
        for task_id in ("read_version_broken", "update_variables_broken"):
            assert run.task_state(task_id, index) == "upstream_failed", (task_id, index, run.tis)
    # Nothing of the single-repository shape: every task carries its repository's name.
    assert not {task_id for task_id, _ in run.tis} & {"clone_and_checkout_repo", "read_version_yaml"}
    assert run.task_state("cleanup_temp_files") == "success"
    assert "Branch 't-no-such-branch' does not exist" in run.log
    values = expected_values(stack)
    for server in ("gpu-01", "gpu-02"):
        for key, value in values.items():
            assert get_variable(f"{server}__good__{key}") == as_variable_text(value)
            assert get_variable(f"{server}__broken__{key}") is None
        workspace = Path(stack["workspace"]) / f"repos-{server.removeprefix('gpu-')}"
        assert (workspace / "good" / "www" / "version.yaml").is_file()
        code_branch = subprocess.run(
            ["git", "-C", str(workspace / "repos" / "code"), "rev-parse", "--abbrev-ref", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert code_branch == "t-vf-missing"
    summary = run.result("update_variables_good", 0)
    assert summary["repository"] == "good" and summary["variables_updated"] == 4
    metric_lines = [line for line in run.log.splitlines() if "METRIC git " in line]
    assert any('"repository": "good"' in line for line in metric_lines), metric_lines
    assert any('"repository": "code-only"' in line for line in metric_lines), metric_lines
    for server in ("repos-01", "repos-02"):
        shutil.rmtree(Path(stack["workspace"]) / server, ignore_errors=True)


# --------------------------------------------------------------------------- hostile input

INJECTIONS = [
    "$(touch {canary})",
    "`touch {canary}`",
    "; touch {canary}",
    "/tmp/x; touch {canary}",
    "/tmp/x && touch {canary}",
    "/tmp/x\ntouch {canary}",
    "/tmp/x' ; touch {canary} ; '",
    '/tmp/x" ; touch {canary} ; "',
    "/tmp/x|touch {canary}",
    "/tmp/$(touch {canary})",
    "-oProxyCommand=touch {canary}",
    "--upload-pack=touch {canary}",
    "../../../../tmp/x",
    "/tmp/../../etc",
    "/tmp/x\x00y",
    "{{{{ touch {canary} }}}}",
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:x;touch {canary}",
    "10.0.0.99",
    "all; touch {canary}",
]


def load_dag_module(path: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"dagtest_module_{abs(hash(path))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_inputs(module, params: dict) -> list[dict]:
    """What validate_inputs runs: the DAG's library (as its tasks import it) on the DAG's CONFIG."""
    return module.library().check_inputs(module.CONFIG, params)


def input_error(module) -> type[Exception]:
    return module.library().InputError


@pytest.mark.parametrize("param", ["gpu_server_ip", "workspace_path", "secrets_arn"])
def test_injection_strings_are_rejected_in_every_parameter(dagbag, dag_files, stack, workspace, param):
    from conftest import CANARY

    dag = dagbag.get_dag("gpu_server_cicd_workflow")
    module = load_dag_module(dag_files["main"]["path"])
    base = {"gpu_server_ip": stack["ssh"]["host"], "workspace_path": workspace, "secrets_arn": stack["secretArn"]}
    for key in "abcd":
        set_variable(key, SENTINEL)
    for template in INJECTIONS:
        value = template.format(canary=CANARY)
        # The validator in the DAG file (what validate_inputs runs) names the parameter.
        with pytest.raises(input_error(module), match=f"^{param}: "):
            check_inputs(module, {**base, param: value})
        # A real run: refused when the run is created (JSON schema) or failed at validate_inputs.
        try:
            run = run_dag(dag, {**base, param: value})
        except Exception as exc:  # ParamValidationError when the run is created
            assert param in str(exc), (value, str(exc))
            continue
        assert run.state == "failed", (value, run.tis)
        assert run.failed_tasks() == ["validate_inputs"], (value, run.tis)
        assert f"{param}: " in run.log
        assert run.task_state("test_ssh_connection") in (None, "upstream_failed")
    assert not CANARY.exists()
    for key in "abcd":
        assert get_variable(key) == SENTINEL


def test_server_outside_the_allowlist_is_refused(dagbag, stack, workspace):
    dag = dagbag.get_dag("gpu_server_cicd_workflow")
    with pytest.raises(Exception, match="gpu_server_ip"):
        run_dag(dag, {"gpu_server_ip": "192.0.2.10", "workspace_path": workspace, "secrets_arn": stack["secretArn"]})
    module = load_dag_module(dag.fileloc)
    with pytest.raises(
        input_error(module),
        match=r"gpu_server_ip: '192.0.2.10' is not a configured GPU server\. "
        r"Allowed: local-gpu, 127\.0\.0\.1",
    ):
        check_inputs(module, {"gpu_server_ip": "192.0.2.10", "workspace_path": "", "secrets_arn": stack["secretArn"]})


def test_pytag_canary_never_created():
    from conftest import CANARY

    assert not CANARY.exists()


def test_only_the_configured_secret_can_be_read(dagbag, dag_files, stack, workspace):
    """Whoever can trigger a run must not make the workers read another secret."""
    dag = dagbag.get_dag("gpu_server_cicd_workflow")
    module = load_dag_module(dag_files["main"]["path"])
    other = stack["secretArn"].replace("gpu-server-ssh-key", "another-teams-secret")
    assert other != stack["secretArn"]
    base = conf(stack, workspace)
    with pytest.raises(input_error(module), match=r"^secrets_arn: .* is not the configured SSH key secret"):
        check_inputs(module, {**base, "secrets_arn": other})
    try:
        run = run_dag(dag, {**base, "secrets_arn": other})
    except Exception as exc:  # ParamValidationError: the Param's enum refuses it when the run is created
        assert "secrets_arn" in str(exc) or other in str(exc), str(exc)
        return
    assert run.failed_tasks() == ["validate_inputs"], run.tis
    assert run.task_state("retrieve_ssh_key") in (None, "upstream_failed")


def test_a_server_name_that_is_another_servers_host_selects_one_server(dag_files):
    """The config refuses such servers; the DAG still never lets one value mean two servers."""
    module = load_dag_module(dag_files["multi"]["path"])
    module.SERVERS[2] = {**module.SERVERS[2], "host": "gpu-01"}
    params = {"gpu_server_ip": "gpu-01", "workspace_path": "", "secrets_arn": module.SSH_KEY_ARN}
    targets = check_inputs(module, params)
    assert [target["name"] for target in targets] == ["gpu-01"]


@pytest.mark.parametrize("workspace", ["/srv/../etc", "/home/ubuntu/./ws", "/home/ubuntu//ws", "/srv/ws/.."])
def test_workspace_paths_with_dot_components_are_refused_when_the_run_is_created(dagbag, stack, workspace):
    """The Param's pattern is the config's rule (src/config/validators.ts): the run is never created."""
    dag = dagbag.get_dag("gpu_server_cicd_workflow")
    # ParamValidationError (its module differs between the Airflow lines)
    with pytest.raises(Exception, match="workspace_path"):
        run_dag(dag, {**conf(stack, workspace), "workspace_path": workspace})
