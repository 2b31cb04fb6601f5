"""The DAG folder that `generate` writes for the shipped prod example, on this interpreter's Airflow
line (run with each stack venv's python): the DAG file and its library zip, parsed by a real
Airflow DagBag in a fresh process each. Needs no local stack.

- The DAG file passes ruff and compiles, and parses with zero import errors with the library
  beside it; Airflow finds no DAG file in the zip (it looks only at a zip's top level), not even
  one it fails to import.
- It parses just as well with the library absent (MWAA syncs the folder in no promised order): a
  parse never imports the library; a task does, and only when it runs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import AIRFLOW_VERSION, REPO, TASK_ORDER

# Parses the DAG folder in a fresh process (nothing imported before) and reports what it found. With
# a params argument it then runs validate_inputs' callable as a task would: with the DAG folder on
# sys.path, where Airflow puts it in every process that runs tasks.
PROBE = """
import json, sys
dags, params = sys.argv[1], json.loads(sys.argv[2])
from airflow.models.dagbag import DagBag
bag = DagBag(dag_folder=dags)
dag = bag.dags.get("gpu_server_cicd_workflow")
found = {
    "errors": {path: text[-500:] for path, text in bag.import_errors.items()},
    "files": sorted(stat.file.lstrip("/") for stat in bag.dagbag_stats if stat.dag_num > 0),
    "parsed": sorted(stat.file.lstrip("/") for stat in bag.dagbag_stats),
    "dags": sorted(bag.dag_ids),
    "library_imported": sorted(m for m in sys.modules if m.startswith("gpu_cicd_lib")),
}
if dag is not None:
    found["order"] = [task.task_id for task in dag.topological_sort()]
    first = dag.get_task("validate_inputs")
    found["first_retries"] = [first.retries, first.retry_delay.total_seconds()]
    found["retries"] = dag.get_task("retrieve_ssh_key").retries
    found["tags"] = sorted(dag.tags)
if params is not None:
    sys.path.append(dags)
    try:
        found["targets"] = [t["name"] for t in first.python_callable(params=params)]
        dag_module = first.python_callable.__globals__
        found["adapter"] = dag_module["library"]().airflow(dag_module["CONFIG"]).__name__
    except Exception as exc:
        found["task_error"] = f"{type(exc).__name__}: {exc}"
print("PROBE " + json.dumps(found))
"""


@pytest.fixture(scope="module")
def dag_folder() -> dict:
    """The prod example's DAG folder as generate writes it, for this Airflow version."""
    folder = Path(tempfile.mkdtemp(prefix="dagfolder-"))
    done = subprocess.run(
        [str(REPO / "node_modules" / ".bin" / "tsx"), str(Path(__file__).with_name("render_dag_folder.ts"))]
        + ["prod", AIRFLOW_VERSION, str(folder / "dags")],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"rendering the DAG folder failed:\n{done.stderr[-3000:]}")
    yield {**json.loads(done.stdout), "folder": folder / "dags"}
    shutil.rmtree(folder, ignore_errors=True)


def parse(dags: Path, *, syntax: str | None = None, params: dict | None = None) -> dict:
    home = Path(tempfile.mkdtemp(prefix="dagfolder-home-"))
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        # No test module on the path: the parse sees only what Airflow and the DAG folder give it.
        "PYTHONPATH": "",
    }
    if syntax:
        env["AIRFLOW__CORE__DAG_IGNORE_FILE_SYNTAX"] = syntax
    try:
        done = subprocess.run(
            [sys.executable, "-c", PROBE, str(dags), json.dumps(params)],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )
    finally:
        shutil.rmtree(home, ignore_errors=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("PROBE ")]
    assert done.returncode == 0 and lines, done.stderr[-3000:]
    return json.loads(lines[-1].removeprefix("PROBE "))


def test_the_dag_file_passes_ruff_compiles_and_stays_short(dag_folder):
    path = dag_folder["dag"]
    ruff = Path(sys.executable).with_name("ruff")
    config = str(REPO / "pyproject.toml")
    for command in (["check"], ["format", "--check"]):
        lint = subprocess.run(
            [str(ruff), *command, "--no-cache", "--config", config, path], capture_output=True, text=True, check=False
        )
        assert lint.returncode == 0, lint.stdout + lint.stderr
    compiled = subprocess.run([sys.executable, "-m", "py_compile", path], capture_output=True, text=True, check=False)
    assert compiled.returncode == 0, compiled.stderr
    assert len(Path(path).read_text().splitlines()) <= 250


def test_it_parses_with_zero_import_errors_and_airflow_never_parses_the_library(dag_folder):
    found = parse(dag_folder["folder"], params={"gpu_server_ip": "gpu-prod-02", "secrets_arn": _arn(dag_folder)})
    assert found["errors"] == {}
    assert found["dags"] == ["gpu_server_cicd_workflow"]
    assert found["files"] == ["gpu_server_cicd_dag.py"]
    assert found["order"] == TASK_ORDER
    assert found["library_imported"] == []
    assert any(tag.startswith("build-") for tag in found["tags"])
    # Airflow opens the zip, finds nothing at its top level to parse, and records no error for it.
    assert sorted(found["parsed"]) == sorted(["gpu_server_cicd_dag.py", f"{dag_folder['library']}.zip"])
    # The first task tolerates a library that has not synced yet; the others keep the config's retries.
    assert found["first_retries"] == [3, 30.0]
    assert found["retries"] == 2
    # The task's body imports the library shipped beside it, and the adapter of this line.
    assert found.get("task_error") is None, found["task_error"]
    assert found["targets"] == ["gpu-prod-02"]
    assert found["adapter"] == f"{dag_folder['library']}.airflow{dag_folder['line']}"


def test_nothing_in_the_library_is_parsed_as_a_dag_file_even_when_it_would_fail(dag_folder):
    """Safe mode parses every .py file holding "airflow" and "dag": a module of the library that
    raised at import would be an import error, were it a file of the DAG folder. In the zip it is
    not one: a module that raises shows that Airflow never imports the package's modules."""
    import zipfile

    folder = Path(tempfile.mkdtemp(prefix="dagfolder-trap-")) / "dags"
    shutil.copytree(dag_folder["folder"], folder)
    archive = folder / f"{dag_folder['library']}.zip"
    trap = 'from airflow import DAG  # noqa\nraise RuntimeError("the library was parsed as a DAG file")\n'
    with zipfile.ZipFile(archive, "a") as zipped:
        zipped.writestr(f"{dag_folder['library']}/trap.py", trap)
        zipped.writestr(f"{dag_folder['library']}/sub/trap.py", trap)
    try:
        found = parse(folder)
    finally:
        shutil.rmtree(folder.parent, ignore_errors=True)
    assert found["errors"] == {}
    assert found["files"] == ["gpu_server_cicd_dag.py"]


def test_it_parses_without_its_library_and_only_a_task_needs_it(dag_folder):
    """The DAG file synced before its library: the parse succeeds, never touching the library; the
    task that runs in that window fails with ModuleNotFoundError, which its retries cover."""
    folder = Path(tempfile.mkdtemp(prefix="dagfolder-alone-")) / "dags"
    folder.mkdir()
    shutil.copy(dag_folder["dag"], folder)
    try:
        found = parse(folder, params={"gpu_server_ip": "gpu-prod-01", "secrets_arn": _arn(dag_folder)})
    finally:
        shutil.rmtree(folder.parent, ignore_errors=True)
    assert found["errors"] == {}
    assert found["dags"] == ["gpu_server_cicd_workflow"]
    assert found["order"] == TASK_ORDER
    assert found["library_imported"] == []
    assert found["task_error"].startswith("ModuleNotFoundError: ")
    assert f"{dag_folder['library']}.zip has not reached this worker yet" in found["task_error"]


def _arn(dag_folder) -> str:
    import ast

    tree = ast.parse(Path(dag_folder["dag"]).read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "SSH_KEY_ARN":
            return ast.literal_eval(node.value)
    raise AssertionError("the DAG file has no SSH_KEY_ARN")
