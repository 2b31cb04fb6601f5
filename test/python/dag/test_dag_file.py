"""The generated DAG file as Airflow's parser sees it: imports, structure, parameters, lint."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import AIRFLOW_LINE, REPO, TASK_ORDER


def test_every_variant_imports_without_errors(dagbag, dag_files):
    assert dagbag.import_errors == {}
    expected = {info["dagId"] for name, info in dag_files.items() if not name.startswith("_")}
    assert expected <= set(dagbag.dag_ids)


def test_tasks_run_in_the_documented_order_with_cleanup_as_teardown(dagbag):
    dag = dagbag.get_dag("gpu_server_cicd_workflow")
    assert [t.task_id for t in dag.topological_sort()] == TASK_ORDER
    for upstream, downstream in zip(TASK_ORDER, TASK_ORDER[1:], strict=False):
        assert upstream in dag.get_task(downstream).upstream_task_ids, (upstream, downstream)
    cleanup = dag.get_task("cleanup_temp_files")
    assert cleanup.is_teardown
    assert {t.task_id for t in dag.tasks if t.is_setup} == {"validate_inputs", "retrieve_ssh_key"}
    assert str(cleanup.trigger_rule) in ("all_done_setup_success", "TriggerRule.ALL_DONE_SETUP_SUCCESS")


def test_per_server_tasks_are_mapped_and_bounded(dagbag):
    dag = dagbag.get_dag("t_multi")
    for task_id in TASK_ORDER[2:6]:
        task = dag.get_task(task_id)
        assert task.max_active_tis_per_dagrun == 2, task_id
        assert task.get_closest_mapped_task_group() is not None, task_id


def test_each_repository_is_its_own_branch_after_the_connection_test(dagbag):
    dag = dagbag.get_dag("t_tworepos")
    assert dag.max_active_tasks == 4
    for name in ("good", "broken", "code-only"):
        clone = dag.get_task(f"clone_{name}")
        # Its inputs (targets, key, connection test), never another repository's task.
        assert clone.upstream_task_ids == {"validate_inputs", "retrieve_ssh_key", "test_ssh_connection"}, name
        assert clone.max_active_tis_per_dagrun == dag.get_task("test_ssh_connection").max_active_tis_per_dagrun
        assert clone.get_closest_mapped_task_group() is not None, name
    for name in ("good", "broken"):
        assert dag.get_task(f"read_version_{name}").upstream_task_ids == {
            "validate_inputs",
            "retrieve_ssh_key",
            f"clone_{name}",
        }
        assert dag.get_task(f"update_variables_{name}").upstream_task_ids >= {f"read_version_{name}", f"clone_{name}"}
    assert "read_version_code-only" not in dag.task_ids
    cleanup = dag.get_task("cleanup_temp_files")
    leaves = {"update_variables_good", "update_variables_broken", "clone_code-only"}
    assert leaves <= cleanup.upstream_task_ids, cleanup.upstream_task_ids


def test_params_carry_json_schema_for_every_input(dagbag, stack):
    dag = dagbag.get_dag("gpu_server_cicd_workflow")
    params = dag.params
    server = params.get_param("gpu_server_ip").schema
    assert server["enum"] == ["local-gpu", stack["ssh"]["host"]]
    assert params["gpu_server_ip"] == stack["ssh"]["host"]
    assert params["workspace_path"] == stack["workspace"]
    assert params.get_param("workspace_path").schema["pattern"].startswith("^")
    assert params["secrets_arn"] == stack["secretArn"]
    assert params.get_param("secrets_arn").schema["enum"] == [stack["secretArn"]]
    multi = dagbag.get_dag("t_multi").params
    assert multi.get_param("gpu_server_ip").schema["enum"][:4] == ["all", "gpu-01", "gpu-02", "gpu-03"]
    assert multi["gpu_server_ip"] == "all"


def _top_level_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add((node.module or "").split(".")[0])
    return names


def test_top_level_stays_cheap(dag_files):
    """Parsing must not import boto3/paramiko/yaml, touch the network or read Variables."""
    path = Path(dag_files["main"]["path"])
    # Config and wiring only: nothing but Airflow and the standard library modules every Python
    # process has loaded (datetime; sys and pathlib to find the library zip when a task runs).
    assert _top_level_imports(path) <= {"__future__", "datetime", "sys", "pathlib", "airflow"}
    probe = f"""
import builtins, socket
import airflow.models
{"from airflow.models import Variable" if AIRFLOW_LINE == "2" else "from airflow.sdk import Variable"}
heavy = {{"boto3", "botocore", "paramiko", "yaml", "gpu_ssh_utils", "aws_secrets_utils"}}
real_import = builtins.__import__
def guarded_import(name, globals=None, *args, **kwargs):
    top = name.split(".")[0]
    if (globals or {{}}).get("__name__") == "generated_dag" and (top in heavy or top.startswith("gpu_cicd_lib")):
        raise AssertionError("the DAG file imports " + name + " while being parsed")
    return real_import(name, globals, *args, **kwargs)
builtins.__import__ = guarded_import
def no_network(*args, **kwargs):
    raise AssertionError("network access while parsing the DAG file")
socket.socket.connect = no_network
socket.create_connection = no_network
def no_variables(*args, **kwargs):
    raise AssertionError("Variable access while parsing the DAG file")
Variable.get = no_variables
Variable.set = no_variables
import importlib.util
spec = importlib.util.spec_from_file_location("generated_dag", {str(path)!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print("parsed", len(module.SERVERS))
"""
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "parsed 1" in done.stdout


@pytest.mark.parametrize("variant", ["main", "multi"])
def test_generated_file_passes_ruff_and_py_compile(dag_files, variant):
    path = dag_files[variant]["path"]
    ruff = Path(sys.executable).with_name("ruff")
    if not ruff.exists():
        pytest.fail(f"ruff is not installed next to {sys.executable}")
    lint = subprocess.run(
        [str(ruff), "check", "--no-cache", "--config", str(REPO / "pyproject.toml"), path],
        capture_output=True,
        text=True,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    formatted = subprocess.run(
        [str(ruff), "format", "--check", "--no-cache", "--config", str(REPO / "pyproject.toml"), path],
        capture_output=True,
        text=True,
        check=False,
    )
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr
    compiled = subprocess.run([sys.executable, "-m", "py_compile", path], capture_output=True, text=True, check=False)
    assert compiled.returncode == 0, compiled.stderr


def test_the_dag_file_holds_the_config_rules_and_imports_its_library_by_content(dag_files):
    """The shared rules as literals; the library by the name generate gave it, shipped beside it."""
    import json

    source = Path(dag_files["main"]["path"]).read_text()
    package = dag_files["_library"]
    assert f"from {package} import tasks" in source
    import zipfile

    shipped = zipfile.ZipFile(Path(dag_files["main"]["path"]).with_name(f"{package}.zip"))
    source_dir = REPO / "templates" / "dag" / "gpu_cicd_lib"
    # The modules and the data they read through the package's loader (gpus.py's nvidia-smi query).
    modules = sorted(p.name for p in source_dir.iterdir() if p.suffix in (".py", ".json"))
    assert shipped.namelist() == [f"{package}/{name}" for name in modules]
    for name in modules:
        assert shipped.read(f"{package}/{name}") == (source_dir / name).read_bytes(), name
    corpus = json.loads((REPO / "test" / "fixtures" / "version-yaml-corpus.json").read_text())
    tree = ast.parse(source)
    constants = {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id in ("VERSION_FILE_LIMITS", "WORKSPACE_PATTERN")
    }
    assert constants["VERSION_FILE_LIMITS"] == corpus["limits"]
    assert constants["WORKSPACE_PATTERN"].startswith("^")
