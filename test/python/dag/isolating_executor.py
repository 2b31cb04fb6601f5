"""Executors for the DAG tests that run every task instance in its own fresh process, with its own
TMPDIR and HOME, as MWAA's Celery workers would: a task that relied on a file written by an
earlier task would fail here. Leftover files in a task's TMPDIR are recorded in
``$TMPDIR/leftovers.log`` (the test asserts it does not exist).

Airflow 2: ``airflow tasks run ...`` per task (SequentialExecutor's command, the one executor
SQLite allows). Airflow 3: ``python -m airflow.sdk.execution_time.execute_workload`` per task,
as the Celery and Kubernetes executors run workloads, against a running api-server.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from importlib.metadata import version

AIRFLOW_LINE = version("apache-airflow").split(".")[0]


def _isolated(name: str, command: list[str], log) -> bool:
    private = tempfile.mkdtemp(prefix=f"task-{name}-")
    env = {**os.environ, "TMPDIR": private, "HOME": private}
    log.info("Executing command in its own process (TMPDIR=%s): %s", private, command[:6])
    try:
        return subprocess.run(command, close_fds=True, env=env, check=False).returncode == 0
    finally:
        leftovers = sorted(os.listdir(private))
        if leftovers:
            log.warning("Task %s left files in its TMPDIR: %s", name, leftovers)
            with open(os.path.join(tempfile.gettempdir(), "leftovers.log"), "a") as out:
                out.write(f"{name}: {leftovers}\n")
        shutil.rmtree(private, ignore_errors=True)


if AIRFLOW_LINE == "2":
    from airflow.executors.sequential_executor import SequentialExecutor

    class IsolatingExecutor(SequentialExecutor):
        """SequentialExecutor with a fresh TMPDIR/HOME per task."""

        def sync(self) -> None:
            for key, command in self.commands_to_run:
                if _isolated(f"{key.task_id}-{key.map_index}", list(command), self.log):
                    self.success(key)
                else:
                    self.fail(key)
            self.commands_to_run = []

else:
    from airflow.executors.base_executor import BaseExecutor

    class IsolatingExecutor(BaseExecutor):
        """Runs each workload in a new interpreter, one after another."""

        is_local = True
        serve_logs = False

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._pending: list = []

        def _process_workloads(self, workload_list) -> None:
            for workload in workload_list:
                self.queued_tasks.pop(workload.key, None)
                self.running.add(workload.key)
                self._pending.append(workload)

        def sync(self) -> None:
            pending, self._pending = self._pending, []
            for workload in pending:
                command = [
                    sys.executable,
                    "-m",
                    "airflow.sdk.execution_time.execute_workload",
                    "--json-string",
                    workload.model_dump_json(),
                ]
                name = f"{workload.ti.task_id}-{workload.ti.map_index}"
                if _isolated(name, command, self.log):
                    self.success(workload.key)
                else:
                    self.fail(workload.key)

        def end(self) -> None:
            self.sync()

        def terminate(self) -> None:
            self._pending = []
