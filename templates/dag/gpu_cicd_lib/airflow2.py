"""What the library needs from Airflow 2 (2.x imports and APIs). airflow3.py has the same names;
tasks.py picks one by the Airflow line the DAG was generated for. Airflow is imported inside the
functions, so either module imports anywhere."""

from __future__ import annotations


def failure(message: str) -> Exception:
    """An error that fails the task without retries: retrying cannot fix a wrong input, key or file."""
    from airflow.exceptions import AirflowFailException

    return AirflowFailException(message)


def get_variable(key: str) -> str | None:
    from airflow.models import Variable

    return Variable.get(key, default_var=None)


def set_variable(key: str, value: str) -> None:
    from airflow.models import Variable

    Variable.set(key, value)


def task_log_url(dag_id: str, run_id: str, task_id: str, map_index: int) -> str:
    """The task's log in the Airflow UI (as the UI itself links it); "<Airflow UI>" stands for the
    address when Airflow's base_url is not set."""
    from urllib.parse import quote

    from airflow.configuration import conf

    base = (conf.get("webserver", "base_url", fallback="") or "").rstrip("/") or "<Airflow UI>"
    mapped = f"&map_index={map_index}" if map_index >= 0 else ""
    return f"{base}/dags/{dag_id}/grid?dag_run_id={quote(run_id, safe='')}&task_id={task_id}{mapped}&tab=logs"


def run_task_states(dag, run_id: str) -> list[tuple[str, int, str]]:
    """(task_id, map_index, state) of every task instance of the run, from the metadata DB."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = (
            session.query(TaskInstance.task_id, TaskInstance.map_index, TaskInstance.state)
            .filter(TaskInstance.dag_id == dag.dag_id, TaskInstance.run_id == run_id)
            .all()
        )
    return [(task_id, map_index, str(state)) for task_id, map_index, state in rows]
