"""The config's schedule rule (src/config/validators.ts scheduleProblem) against Airflow itself:
every schedule the config accepts, Airflow accepts; every one it refuses, Airflow refuses too,
except the few the corpus marks as refused on purpose although Airflow would take them."""

from __future__ import annotations

import json
import warnings
from datetime import UTC, datetime

from conftest import AIRFLOW_LINE, REPO

CORPUS = json.loads((REPO / "test" / "fixtures" / "cron-corpus.json").read_text())["cases"]


def airflow_accepts(schedule: str) -> bool:
    if AIRFLOW_LINE == "3":
        from airflow.sdk import DAG
    else:
        from airflow import DAG
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            dag = DAG(
                dag_id="schedule_probe",
                schedule=schedule,
                max_active_runs=1,
                start_date=datetime(2024, 1, 1, tzinfo=UTC),
            )
            dag.timetable.validate()
        except Exception:
            return False
    return True


def test_the_config_accepts_a_schedule_only_when_airflow_does():
    assert len(CORPUS) >= 60
    wrong = [
        (case["schedule"], case.get("airflowAccepts", case["valid"]))
        for case in CORPUS
        if airflow_accepts(case["schedule"]) != case.get("airflowAccepts", case["valid"])
    ]
    assert wrong == []
    assert sum(1 for case in CORPUS if not case["valid"] and not case.get("airflowAccepts")) >= 20
