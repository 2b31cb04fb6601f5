"""The task logic of the generated DAG (mwaa-gpu-cicd): run-parameter checks, the version file's
reader, SSH and git steps, Airflow Variables, CloudWatch metrics and failure notices.

The generator ships this package into the DAG folder as ``gpu_cicd_lib_<hash12>.zip`` holding
``gpu_cicd_lib_<hash12>/`` (the hash of what the package holds): one object, so it reaches a worker
whole, and Airflow looks for DAGs only at a zip's top level, where it has no file. The DAG file
imports it only inside its task bodies and callbacks: a parse never needs it, whatever order MWAA
syncs the folder in. Modules import each other relatively, so the package works under any name.

Every module is import-safe on its own: no side effects and no heavy imports at module level
(yaml, boto3, gpu_ssh_utils and aws_secrets_utils are imported inside the functions that use
them). The differences between the Airflow lines live in airflow2.py and airflow3.py.
"""
