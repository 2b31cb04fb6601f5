"""No key material anywhere a run leaves traces: task logs (in-process and per-task log files) and
every XCom of every run of this session. Runs last (file order); runs a DAG itself if alone."""

from __future__ import annotations

from pathlib import Path

from conftest import LOG_LINES, RUNS, key_fragments, run_dag, xcom_rows


def test_no_key_material_in_any_log_or_xcom(dagbag, stack, workspace, airflow_home, private_key_text):
    if not any(run.state == "success" for run in RUNS):
        dag = dagbag.get_dag("gpu_server_cicd_workflow")
        run = run_dag(
            dag, {"gpu_server_ip": stack["ssh"]["host"], "workspace_path": workspace, "secrets_arn": stack["secretArn"]}
        )
        assert run.state == "success", run.tis
    fragments = key_fragments(private_key_text)
    assert len(fragments) >= 3
    texts = {"in-process log": "\n".join(LOG_LINES)}
    for path in Path(airflow_home, "logs").rglob("*"):
        if path.is_file():
            texts[str(path)] = path.read_text(errors="replace")
    xcom_count = 0
    for run in RUNS:
        for key, value in xcom_rows(run.dag_id, run.run_id).items():
            texts[f"xcom {run.dag_id} {run.run_id} {key}"] = repr(value)
            xcom_count += 1
    assert xcom_count >= 6 and len(texts["in-process log"]) > 1000
    # The scan would see a key: the fingerprint is there, the key is not.
    assert any("SHA256:" in text for text in texts.values())
    for where, text in texts.items():
        assert "PRIVATE KEY" not in text, where
        for fragment in fragments:
            assert fragment not in text, where
