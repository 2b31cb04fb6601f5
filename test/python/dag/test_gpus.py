"""The DAG's nvidia-smi reader (templates/dag/gpu_cicd_lib/gpus.py), imported as it is, against every
recorded output (test/fixtures/nvidia-smi, sources in SOURCES.md) with the verdicts the runtime
check gives (verdicts.json, also asserted by test/unit/runtime-check/nvidia-smi.test.ts): one
reading, one list of shortfalls, one refusal per malformed output, whichever side reads it."""

from __future__ import annotations

import json
import subprocess
import tempfile

import pytest
from conftest import REPO
from gpu_cicd_lib import gpus, monitoring

FIXTURES = REPO / "test" / "fixtures" / "nvidia-smi"
VERDICTS = json.loads((FIXTURES / "verdicts.json").read_text())
RECORDINGS = sorted(path.name for path in FIXTURES.iterdir() if path.is_dir())
# The config's words (camelCase) to the DAG's (src/generator/render-dag.ts dagGpuExpectation).
DAG_WORDS = {
    "count": "count",
    "model": "model",
    "minMemoryMiB": "min_memory_mib",
    "minDriverVersion": "min_driver_version",
    "minCudaVersion": "min_cuda_version",
    "noUncorrectedEcc": "no_uncorrected_ecc",
    "mig": "mig",
}


def recorded(name: str) -> tuple[dict, dict]:
    folder = FIXTURES / name
    code_file = folder / "exit-code"
    code = int(code_file.read_text().strip()) if code_file.exists() else 0
    query = {"code": code, "stdout": (folder / "query.csv").read_text(), "stderr": ""}
    header = {"code": code, "stdout": (folder / "nvidia-smi.txt").read_text(), "stderr": ""}
    return query, header


def test_every_recording_has_a_verdict():
    assert sorted(VERDICTS["readings"]) == RECORDINGS


@pytest.mark.parametrize("name", RECORDINGS)
def test_each_recording_reads_as_the_runtime_check_reads_it(name):
    verdict = VERDICTS["readings"][name]
    if "refused" in verdict:
        with pytest.raises(gpus.NvidiaSmiError) as refused:
            gpus.read_gpus(*recorded(name))
        assert str(refused.value) == verdict["refused"]
    else:
        reading = gpus.read_gpus(*recorded(name))
        assert reading == verdict["reading"]
        assert gpus.summary(reading) == verdict["summary"]


@pytest.mark.parametrize("case", VERDICTS["shortfalls"], ids=lambda case: case["recording"])
def test_shortfalls_are_the_runtime_checks_sentences(case):
    expected = {DAG_WORDS[key]: value for key, value in case["gpus"].items()}
    assert gpus.shortfalls(expected, gpus.read_gpus(*recorded(case["recording"]))) == case["shortfalls"]


@pytest.mark.parametrize("case", VERDICTS["malformed"], ids=lambda case: case["name"])
def test_output_outside_the_documented_format_is_refused_with_the_same_words(case):
    with pytest.raises(gpus.NvidiaSmiError) as refused:
        gpus.parse_gpu_query(0, case["stdout"], "")
    assert str(refused.value) == case["refused"]


def test_a_server_without_nvidia_smi_fails_with_what_a_real_shell_printed():
    # A real bash with nothing on PATH, running the exact command the task sends.
    with tempfile.TemporaryDirectory() as empty:
        shell = subprocess.run(
            ["/bin/bash", "-c", " ".join(gpus.QUERY_ARGV)],
            env={"PATH": empty},
            capture_output=True,
            text=True,
            check=False,
        )
    assert shell.returncode == 127
    with pytest.raises(gpus.NvidiaSmiError) as refused:
        gpus.parse_gpu_query(shell.returncode, shell.stdout, shell.stderr)
    assert str(refused.value).startswith("nvidia-smi is not installed on the server (")
    assert "nvidia-smi: command not found" in str(refused.value)


def test_the_query_is_the_one_the_runtime_check_sends():
    assert " ".join(gpus.QUERY_ARGV) == (
        "nvidia-smi --query-gpu=index,name,memory.total,memory.used,driver_version,"
        "ecc.errors.uncorrected.volatile.total,mig.mode.current,pci.bus_id --format=csv,noheader,nounits"
    )


def test_gpu_metrics_become_cloudwatch_data_per_server():
    reading = gpus.read_gpus(*recorded("h100-80gb"))
    used = gpus.memory_used_percent(reading)
    assert used == round(100 * (72790 * 2) / (81559 * 2), 2)
    settings = {
        "dimensions": {"Environment": "prod"},
        "metrics": {
            "GpuCount": {"unit": "Count", "item_dimensions": ["Server"]},
            "GpuMemoryUsedPercent": {"unit": "Percent", "item_dimensions": ["Server"]},
        },
    }
    count = monitoring.metric_data("gpu_count", {"server": "gpu-01", "count": 2}, settings, "t")
    memory = monitoring.metric_data("gpu_memory", {"server": "gpu-01", "used_percent": used}, settings, "t")
    assert [(d["MetricName"], d["Value"], d["Unit"], len(d["Dimensions"])) for d in count + memory] == [
        ("GpuCount", 2.0, "Count", 1),
        ("GpuCount", 2.0, "Count", 2),
        ("GpuMemoryUsedPercent", used, "Percent", 1),
        ("GpuMemoryUsedPercent", used, "Percent", 2),
    ]
    assert gpus.memory_used_percent({"gpus": [{"memoryUsedMiB": None, "memoryTotalMiB": 8192}]}) is None
