"""The DAG as MWAA runs it: every task instance in its own process with its own TMPDIR and HOME
(a task that needed a file or object from an earlier task would fail here)."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import key_fragments, run_dag


def test_full_run_with_every_task_in_its_own_process(
    dagbag, stack, workspace, airflow_home, session_tmp, private_key_text, execution_api
):
    from airflow.models import Variable

    for key in "abcd":
        Variable.set(key, "before-the-isolated-run")
    dag = dagbag.get_dag("gpu_server_cicd_workflow")
    conf = {"gpu_server_ip": stack["ssh"]["host"], "workspace_path": workspace, "secrets_arn": stack["secretArn"]}
    run = run_dag(dag, conf, use_executor=True)
    assert run.state == "success", (run.tis, run.log[-3000:])
    assert all(state == "success" for state in run.tis.values()), run.tis
    assert run.result("clone_and_checkout_repo")["mode"] == "clone"
    # The executor started one process per task instance (7: 3 unmapped + 4 for the one server),
    # each with a TMPDIR of its own.
    tmpdirs = set(re.findall(r"Executing command in its own process \(TMPDIR=([^)]+)\)", run.log))
    assert len(tmpdirs) == 7, run.log[-3000:]
    # Each task process wrote its own log file.
    logs = sorted(Path(airflow_home, "logs").rglob("*.log"))
    task_logs = [p for p in logs if f"run_id={run.run_id}" in str(p)]
    assert {p.parent.name.removeprefix("task_id=") for p in task_logs} >= {
        "validate_inputs",
        "retrieve_ssh_key",
        "cleanup_temp_files",
    }, logs
    mapped = [p for p in task_logs if "map_index=0" in str(p)]
    assert len(mapped) == 4, task_logs
    text = "\n".join(p.read_text(errors="replace") for p in task_logs)
    assert "METRIC git" in text
    assert "Variable a: 'before-the-isolated-run' ->" in text
    assert Variable.get("a") != "before-the-isolated-run"
    for fragment in key_fragments(private_key_text):
        assert fragment not in text
    leftovers = session_tmp / "leftovers.log"
    assert not leftovers.exists(), leftovers.read_text()
