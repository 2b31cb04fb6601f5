"""An executor for the DAG tests that runs every task instance in its own process, with its own
TMPDIR and HOME, as MWAA's Celery workers would: a task that relied on a file written by an
earlier task would fail here."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

from airflow.executors.sequential_executor import SequentialExecutor


class IsolatingSequentialExecutor(SequentialExecutor):
    """SequentialExecutor (the one executor SQLite allows) with a fresh TMPDIR/HOME per task."""

    def sync(self) -> None:
        for key, command in self.commands_to_run:
            private = tempfile.mkdtemp(prefix=f"task-{key.task_id}-{key.map_index}-")
            env = {**os.environ, "TMPDIR": private, "HOME": private}
            self.log.info("Executing command in its own process (TMPDIR=%s): %s", private, command)
            try:
                subprocess.run(command, close_fds=True, env=env, check=True)
                self.success(key)
            except subprocess.CalledProcessError as exc:
                self.fail(key)
                self.log.error("Failed to execute task %s.", exc)
            finally:
                leftovers = sorted(os.listdir(private))
                if leftovers:
                    self.log.warning("Task %s left files in its TMPDIR: %s", key, leftovers)
                    with open(os.path.join(os.environ.get("TMPDIR", "/tmp"), "leftovers.log"), "a") as out:
                        out.write(f"{key.task_id}[{key.map_index}]: {leftovers}\n")
                shutil.rmtree(private, ignore_errors=True)
        self.commands_to_run = []
