"""A user's DAG that triggers another DAG of its MWAA environment and waits for it.

Apache's MwaaTriggerDagRunOperator, unmodified, reaching the MWAA API the way an MWAA worker does
(the environment's AWS settings; on the local stack, the documented endpoint and CA-bundle
variables every Airflow process of the stack gets). Deployed by test/integration/
third-party-clients.test.ts to the stack's DAG folder through S3, as a user deploys a DAG.

The run id is short on purpose: the operator polls InvokeRestApi with the path
/dags/<dag id>/dagRuns/<run id>, and InvokeRestApi refuses a Path longer than 64 characters, which
a default run id (manual__<timestamp>, 40 characters) makes it for most DAG ids.
"""

from datetime import UTC, datetime

from airflow.providers.amazon.aws.operators.mwaa import MwaaTriggerDagRunOperator

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG

with DAG(
    dag_id="mwaa_trigger_and_wait",
    schedule=None,
    start_date=datetime(2024, 1, 1, tzinfo=UTC),
    catchup=False,
    params={"env_name": "", "dag_id": "", "run_id": "", "logical_date": ""},
):
    MwaaTriggerDagRunOperator(
        task_id="trigger_and_wait",
        # The default boto3 configuration of the worker (no Airflow connection), as on MWAA.
        aws_conn_id=None,
        env_name="{{ params.env_name }}",
        trigger_dag_id="{{ params.dag_id }}",
        trigger_run_id="{{ params.run_id }}",
        # Airflow 3's REST API requires it (it may be null); Airflow 2 takes it too.
        logical_date="{{ params.logical_date }}",
        wait_for_completion=True,
        waiter_delay=3,
        waiter_max_attempts=100,
    )
