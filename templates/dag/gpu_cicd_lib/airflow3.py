"""What the library needs from Airflow 3 (the Task SDK: tasks have no metadata-DB access). The same
names as airflow2.py; Airflow is imported inside the functions, so either module imports anywhere."""

from __future__ import annotations


def failure(message: str) -> Exception:
    """An error that fails the task without retries: retrying cannot fix a wrong input, key or file."""
    try:
        from airflow.sdk.exceptions import AirflowFailException
    except ImportError:  # Airflow 3.0 has it only in airflow.exceptions
        from airflow.exceptions import AirflowFailException

    return AirflowFailException(message)


def get_variable(key: str) -> str | None:
    from airflow.sdk import Variable

    return Variable.get(key, default=None)


def set_variable(key: str, value: str) -> None:
    from airflow.sdk import Variable

    Variable.set(key, value)


def task_log_url(dag_id: str, run_id: str, task_id: str, map_index: int) -> str:
    """The task's log in the Airflow UI (as the UI itself links it); "<Airflow UI>" stands for the
    address when Airflow's base_url is not set."""
    from urllib.parse import quote

    from airflow.configuration import conf

    base = (conf.get("api", "base_url", fallback="") or "").rstrip("/") or "<Airflow UI>"
    mapped = f"/mapped/{map_index}" if map_index >= 0 else ""
    return f"{base}/dags/{dag_id}/runs/{quote(run_id, safe='')}/tasks/{task_id}{mapped}"


def run_task_states(dag, run_id: str) -> list[tuple[str, int, str]]:
    """(task_id, map_index, state) of every task instance of the run. DAG callbacks run in the DAG
    processor, which asks the API server (no database access there)."""
    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

    states = RuntimeTaskInstance.get_task_states(dag_id=dag.dag_id, run_ids=[run_id]).get(run_id, {})
    found = []
    for key, state in states.items():
        task_id, map_index = key, -1
        if key not in dag.task_ids and "_" in key:
            task_id, _, index = key.rpartition("_")
            map_index = int(index) if index.isdigit() else -1
        found.append((task_id, map_index, str(state)))
    return found
