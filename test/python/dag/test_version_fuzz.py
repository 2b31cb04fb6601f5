"""Differential fuzzing of the two version.yaml readers: the DAG's (gpu_cicd_lib.version_file
read_version_document, here with this interpreter's PyYAML, the stack venv's) and the runtime
check's (src/runtime-check/version-file.ts, in Node). test/fuzz/run.ts generates the documents
(test/fuzz/version-yaml-generator.ts), has both readers read them, and fails on any document they
read differently: accepted by one and refused by the other, or read to different values.

Every run reads VERSION_FUZZ_COUNT documents (default 20,000) from VERSION_FUZZ_SEED (default: a
fresh random seed). The seed is printed; the same seed gives the same documents, so a failure
reproduces with

    VERSION_FUZZ_SEED=<seed> .local-stack/venvs/airflow-2.11.2/bin/python -m pytest \\
        test/python/dag/test_version_fuzz.py

or, without pytest, node_modules/.bin/tsx test/fuzz/run.ts --python <venv python> --seed <seed>.
A document found this way joins test/fixtures/version-yaml-corpus.json with the reading both
readers then give.
"""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import REPO

# At least this many documents per run unless VERSION_FUZZ_COUNT says otherwise.
DEFAULT_COUNT = 20_000


def test_the_dag_and_the_runtime_check_read_generated_version_files_alike(capfd):
    env = {**os.environ, "VERSION_FUZZ_COUNT": os.environ.get("VERSION_FUZZ_COUNT") or str(DEFAULT_COUNT)}
    result = subprocess.run(
        [
            str(REPO / "node_modules" / ".bin" / "tsx"),
            str(REPO / "test" / "fuzz" / "run.ts"),
            "--python",
            sys.executable,
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=900,
        check=False,
    )
    # The seed and the counts, shown on a pass too: a run's seed is what reproduces it.
    with capfd.disabled():
        sys.stdout.write("\n" + "".join(line + "\n" for line in result.stdout.splitlines() if "fuzz:" in line))
    assert result.returncode == 0, (result.stdout[-20_000:], result.stderr[-5_000:])
    assert f"{env['VERSION_FUZZ_COUNT']} documents: " in result.stdout
