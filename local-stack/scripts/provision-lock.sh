#!/usr/bin/env bash
# Regenerates local-stack/locks/airflow-<version>-py<python>.txt: resolves the local stack's
# packages with pip from PyPI in a scratch venv (Airflow's GitHub constraint files are not
# reachable from CI), then freezes the exact result. One lock per Python: a lock resolved on 3.12
# pins packages that need 3.12. Verify afterwards: rm -rf .local-stack/venvs && npm run local -- up.
# Usage: local-stack/scripts/provision-lock.sh 2.11.2 | 3.3.1 | aws-cli
#   Python: $MWAA_LOCAL_PYTHON, else python3.12 (what MWAA runs both on); python3.11 for the fallback locks.
#   aws-cli: the stack's tools venv (locks/aws-cli-py<python>.txt), the AWS CLI v1 from PyPI that the
#   third-party client tests and the README's examples run; its botocore must know MWAA's InvokeRestApi.
set -euo pipefail
version="${1:?usage: $0 <airflow-version>}"
python="${MWAA_LOCAL_PYTHON:-python3.12}"
repo="$(cd "$(dirname "$0")/../.." && pwd)"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

# What the stack needs besides Airflow: moto (S3 + Secrets Manager), the DAG's and plugins'
# libraries, the test tools, and graphviz (without it `airflow dags ...` prints a warning to stdout).
tools=("moto[server]" boto3 paramiko pyyaml pytest ruff graphviz)
case "$version" in
  2.11.2)
    # The providers of Airflow's 2.11.2 constraints (constraints-2.11.2/constraints-3.12.txt, as
    # copied into MWAA's image repository); FAB is not in that file but is what MWAA's 2.11.2 image
    # ships (it serves the web server's login and /api/v1). Unpinned, pip backtracks to much newer ones.
    pins=(apache-airflow-providers-common-compat==1.14.0 apache-airflow-providers-common-io==1.7.1
          apache-airflow-providers-common-sql==1.32.0 apache-airflow-providers-fab==1.5.4
          apache-airflow-providers-ftp==3.14.1 apache-airflow-providers-http==6.0.0
          apache-airflow-providers-imap==3.11.0 apache-airflow-providers-smtp==2.4.2
          apache-airflow-providers-sqlite==4.3.0 "marshmallow<4" "sqlalchemy<2"
          apache-airflow-providers-amazon==9.22.0) ;;
  3.3.1) pins=(apache-airflow-providers-amazon==9.34.0) ;;
  *) pins=() ;;
esac
# The amazon provider: the version MWAA's image ships for that Airflow version (its bill of
# materials), so that MWAA's own clients (MwaaHook, MwaaTriggerDagRunOperator) run on the stack.

"$python" -m venv "$scratch/venv"
pyver="$("$scratch/venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
if [ "$version" = aws-cli ]; then
  # AWS CLI v1 carries its own botocore (awscli.botocore since 1.45); 1.46.3's MWAA model has InvokeRestApi.
  lock="$repo/local-stack/locks/aws-cli-py$pyver.txt"
  "$scratch/venv/bin/python" -m pip install -q --upgrade pip
  "$scratch/venv/bin/pip" install -q awscli==1.46.3
  "$scratch/venv/bin/pip" check
  "$scratch/venv/bin/python" -c 'import awscli.botocore.session as s; m = s.get_session().get_service_model("mwaa"); assert "InvokeRestApi" in m.operation_names, "this botocore has no MWAA InvokeRestApi"'
  {
    echo "# Exact lock of the local stack's tools venv (the AWS CLI v1 from PyPI) on CPython $pyver (Linux x86_64)."
    echo "# Its botocore's MWAA model has InvokeRestApi (checked when this lock is made)."
    echo "# Installed with: pip install --no-deps -r this-file (see local-stack/src/venv.ts). Regenerate: MWAA_LOCAL_PYTHON=python$pyver local-stack/scripts/provision-lock.sh aws-cli"
    "$scratch/venv/bin/pip" freeze --all | grep -v '^pip=='
  } > "$lock.tmp"
  mv "$lock.tmp" "$lock"
  echo "wrote $lock ($(grep -vc '^#' "$lock") packages)"
  exit 0
fi
lock="$repo/local-stack/locks/airflow-$version-py$pyver.txt"
"$scratch/venv/bin/python" -m pip install -q --upgrade pip setuptools wheel
"$scratch/venv/bin/pip" install -q "apache-airflow==$version" "${pins[@]}" "${tools[@]}"
"$scratch/venv/bin/pip" check
{
  echo "# Exact lock of the local stack's Python packages for apache-airflow $version on CPython $pyver (Linux x86_64)."
  echo "# Resolved with pip from PyPI (Airflow's GitHub constraint files are not reachable here), then"
  echo "# verified: airflow db migrate on SQLite and a triggered DAG run that succeeds."
  echo "# Installed with: pip install --no-deps -r this-file (see local-stack/src/venv.ts). Regenerate: MWAA_LOCAL_PYTHON=python$pyver local-stack/scripts/provision-lock.sh $version"
  "$scratch/venv/bin/pip" freeze --all | grep -v '^pip=='
} > "$lock.tmp"
mv "$lock.tmp" "$lock"
echo "wrote $lock ($(grep -vc '^#' "$lock") packages)"
