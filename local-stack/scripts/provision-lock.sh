#!/usr/bin/env bash
# Regenerates local-stack/locks/airflow-<version>.txt: resolves the local stack's packages with pip
# from PyPI in a scratch venv (Airflow's GitHub constraint files are not reachable from CI), then
# freezes the exact result. Verify afterwards: rm -rf .local-stack/venvs && npm run local -- up.
# Usage: scripts/provision-lock.sh 2.10.3 | 3.3.1   (needs python3.11, or MWAA_LOCAL_PYTHON)
set -euo pipefail
version="${1:?usage: $0 <airflow-version>}"
python="${MWAA_LOCAL_PYTHON:-python3.11}"
repo="$(cd "$(dirname "$0")/../.." && pwd)"
lock="$repo/local-stack/locks/airflow-$version.txt"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

# What the stack needs besides Airflow: moto (S3 + Secrets Manager), the DAG's and plugins'
# libraries, the test tools, and graphviz (without it `airflow dags ...` prints a warning to stdout).
tools=("moto[server]" boto3 paramiko pyyaml pytest ruff graphviz)
case "$version" in
  2.10.3)
    # The providers of Airflow's 2.10.3 constraints; unpinned, pip backtracks to much newer ones.
    pins=(apache-airflow-providers-common-compat==1.2.1 apache-airflow-providers-common-io==1.4.2
          apache-airflow-providers-common-sql==1.19.0 apache-airflow-providers-fab==1.5.0
          apache-airflow-providers-ftp==3.11.1 apache-airflow-providers-http==4.13.2
          apache-airflow-providers-imap==3.7.0 apache-airflow-providers-smtp==1.8.0
          apache-airflow-providers-sqlite==3.9.0 "marshmallow<4" "sqlalchemy<2") ;;
  *) pins=() ;;
esac

"$python" -m venv "$scratch/venv"
"$scratch/venv/bin/python" -m pip install -q --upgrade pip setuptools wheel
"$scratch/venv/bin/pip" install -q "apache-airflow==$version" "${pins[@]}" "${tools[@]}"
"$scratch/venv/bin/pip" check
{
  echo "# Exact lock of the local stack's Python packages for apache-airflow $version on CPython 3.11 (Linux x86_64)."
  echo "# Resolved with pip from PyPI (Airflow's GitHub constraint files are not reachable here), then"
  echo "# verified: airflow db migrate on SQLite and a triggered DAG run that succeeds."
  echo "# Installed with: pip install --no-deps -r this-file (see local-stack/src/venv.ts). Regenerate: local-stack/scripts/provision-lock.sh $version"
  "$scratch/venv/bin/pip" freeze --all | grep -v '^pip=='
} > "$lock.tmp"
mv "$lock.tmp" "$lock"
echo "wrote $lock ($(grep -vc '^#' "$lock") packages)"
