"""What nvidia-smi says about a server's GPUs, read strictly, and how it compares with the server's
gpus expectation. The query is the one of nvidia_smi_query.json beside this module, which the
runtime check (src/runtime-check/nvidia-smi.ts) sends and reads too: the format NVIDIA documents for
``--format=csv,noheader,nounits`` (one line per GPU, values joined by ", ", ``[N/A]`` or
``[Not Supported]`` for what a GPU does not have). The CUDA version comes from plain nvidia-smi's
header: it is the newest CUDA the installed driver supports, not the CUDA toolkit on the server.
Anything else is an error that quotes what was seen. No Airflow, no SSH: pure functions.
"""

from __future__ import annotations

import json
import pkgutil
import re

# Read through the package's loader: a plain directory in tests, the zip in the DAG folder on MWAA.
QUERY = json.loads(pkgutil.get_data(__package__, "nvidia_smi_query.json") or b"{}")
QUERY_FIELDS: list[str] = QUERY["fields"]
MAX_OUTPUT_BYTES: int = QUERY["maxOutputBytes"]
QUERY_ARGV = ["nvidia-smi", "--query-gpu=" + ",".join(QUERY_FIELDS), "--format=" + QUERY["format"]]
HEADER_ARGV = ["nvidia-smi"]
NOT_AVAILABLE = frozenset(QUERY["notAvailable"])

LOST = re.compile(
    r"^Unable to determine the device handle for GPU ?"
    r"([0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-9A-Fa-f]): (.+)$"
)
BUS_ID = re.compile(r"^[0-9A-F]{8}:[0-9A-F]{2}:[0-9A-F]{2}\.[0-9A-F]$")
VERSION = re.compile(r"^\d{1,4}(\.\d{1,4}){0,3}$")
NAME = re.compile(r"^[A-Za-z0-9 ._()/+-]{1,96}$")
HEADER = re.compile(r"^\|\s*NVIDIA-SMI\s+(\S+)\s+Driver Version:\s+(\S+)\s+CUDA Version:\s+(\S+(?: \S+)?)\s*\|$")
COUNT = re.compile(r"^\d{1,9}$")
MISSING = re.compile(r"nvidia-smi: (command )?not found|nvidia-smi: No such file or directory")


class NvidiaSmiError(Exception):
    """nvidia-smi did not report the GPUs; the message says why, quoting what it printed."""


def quote(text: str) -> str:
    shown = text if len(text) <= 120 else text[:117] + "..."
    return json.dumps(shown)


def failure(code: int | None, stdout: str, stderr: str) -> str | None:
    """Why nvidia-smi could not report, when its output says so; None when it reported."""
    lines = [line.strip() for line in (stdout + "\n" + stderr).split("\n") if line.strip()]
    lost = [m for m in (LOST.match(line) for line in lines) if m]
    if lost:
        which = "; ".join(f"{m.group(1)} ({m.group(2)})" for m in lost)
        fell_off = any("GPU is lost" in m.group(2) for m in lost)
        return f"{'a GPU has fallen off the bus' if fell_off else 'nvidia-smi cannot reach a GPU'}: {which}"
    missing = next((line for line in lines if MISSING.search(line)), None)
    if code == 127 or missing:
        said = missing or (lines[0] if lines else f"exit {code}")
        return (
            f"nvidia-smi is not installed on the server ({quote(said)}): install the NVIDIA driver, "
            "or remove gpus from this server's config"
        )
    if any("couldn't communicate with the NVIDIA driver" in line for line in lines):
        return f"the NVIDIA driver is not loaded: nvidia-smi says {quote(lines[0])}"
    if any(line.startswith("No devices were found") for line in lines):
        return "nvidia-smi finds no GPU (No devices were found)"
    if code != 0:
        status = "no exit status" if code is None else f"exit {code}"
        return f"nvidia-smi failed ({status}): {quote(lines[0] if lines else '(no output)')}"
    return None


def parse_gpu_line(line: str) -> dict:
    values = line.split(", ")
    if len(values) != len(QUERY_FIELDS):
        raise NvidiaSmiError(f"expected {len(QUERY_FIELDS)} values ({', '.join(QUERY_FIELDS)}), found {len(values)}")
    field = dict(zip(QUERY_FIELDS, values, strict=True))
    problems: list[str] = []

    def integer(name: str, optional: bool) -> int | None:
        value = field[name]
        if optional and value in NOT_AVAILABLE:
            return None
        if COUNT.match(value):
            return int(value)
        problems.append(f"{name} {quote(value)} is not {'a count or [N/A]' if optional else 'a whole number'}")
        return None

    index = integer("index", False)
    name = field["name"]
    if not NAME.match(name):
        problems.append(f"name {quote(name)} is not a GPU name")
    memory_total = integer("memory.total", False)
    memory_used = integer("memory.used", True)
    driver = field["driver_version"]
    if not VERSION.match(driver):
        problems.append(f"driver_version {quote(driver)} is not a version")
    ecc = integer("ecc.errors.uncorrected.volatile.total", True)
    mig_text = field["mig.mode.current"]
    mig = {"Enabled": "enabled", "Disabled": "disabled"}.get(mig_text)
    if mig is None and mig_text not in NOT_AVAILABLE:
        problems.append(f"mig.mode.current {quote(mig_text)} is not Enabled, Disabled or [N/A]")
    bus_id = field["pci.bus_id"]
    if not BUS_ID.match(bus_id):
        problems.append(f"pci.bus_id {quote(bus_id)} is not a PCI bus id")
    if problems:
        raise NvidiaSmiError("; ".join(problems))
    return {
        "index": index,
        "name": name,
        "memoryTotalMiB": memory_total,
        "memoryUsedMiB": memory_used,
        "driverVersion": driver,
        "eccUncorrected": ecc,
        "mig": mig,
        "busId": bus_id,
    }


def parse_gpu_query(code: int | None, stdout: str, stderr: str) -> list[dict]:
    why = failure(code, stdout, stderr)
    if why:
        raise NvidiaSmiError(why)
    text = stdout.replace("\r\n", "\n")
    lines = (text[:-1] if text.endswith("\n") else text).split("\n")
    if lines == [""]:
        raise NvidiaSmiError("nvidia-smi printed no GPU")
    gpus: list[dict] = []
    for number, line in enumerate(lines, start=1):
        try:
            gpu = parse_gpu_line(line)
        except NvidiaSmiError as exc:
            raise NvidiaSmiError(f"unexpected nvidia-smi output, line {number} {quote(line)}: {exc}") from None
        if any(other["index"] == gpu["index"] for other in gpus):
            raise NvidiaSmiError(f"unexpected nvidia-smi output: GPU index {gpu['index']} twice (line {number})")
        gpus.append(gpu)
    return gpus


def parse_header(code: int | None, stdout: str, stderr: str) -> dict:
    why = failure(code, stdout, stderr)
    if why:
        raise NvidiaSmiError(why)
    for line in stdout.split("\n"):
        match = HEADER.match(line.strip())
        if not match:
            continue
        driver, cuda = match.group(2), match.group(3)
        if not VERSION.match(driver):
            raise NvidiaSmiError(f"unexpected nvidia-smi header {quote(line.strip())}: driver version")
        if VERSION.match(cuda):
            return {"driverVersion": driver, "cudaVersion": cuda}
        if cuda in NOT_AVAILABLE or cuda == "Not Found":
            return {"driverVersion": driver, "cudaVersion": None}
        raise NvidiaSmiError(f"unexpected nvidia-smi header {quote(line.strip())}: CUDA version")
    first = stdout.strip().split("\n")[0]
    raise NvidiaSmiError(
        'unexpected nvidia-smi output: no "NVIDIA-SMI ... Driver Version: ... CUDA Version: ..." line '
        f"(first line {quote(first)})"
    )


def read_gpus(query: dict, header: dict) -> dict:
    """Both outputs ({code, stdout, stderr} each) as one reading {gpus, driverVersion, cudaVersion}."""
    gpus = parse_gpu_query(query["code"], query["stdout"], query["stderr"])
    versions = parse_header(header["code"], header["stdout"], header["stderr"])
    for gpu in gpus:
        if gpu["driverVersion"] != versions["driverVersion"]:
            raise NvidiaSmiError(
                f"unexpected nvidia-smi output: GPU {gpu['index']} reports driver {gpu['driverVersion']}, "
                f"the header {versions['driverVersion']}"
            )
    return {"gpus": gpus, **versions}


def compare_versions(a: str, b: str) -> int:
    left, right = [int(x) for x in a.split(".")], [int(x) for x in b.split(".")]
    width = max(len(left), len(right))
    left, right = left + [0] * (width - len(left)), right + [0] * (width - len(right))
    return (left > right) - (left < right)


def shortfalls(expected: dict, reading: dict) -> list[str]:
    """Every way the reading falls short of the expectation (gpus in the DAG's words), each a sentence."""
    out: list[str] = []
    gpus = reading["gpus"]
    count = expected.get("count")
    if count is not None and len(gpus) != count:
        out.append(f"found {len(gpus)} GPU{'' if len(gpus) == 1 else 's'}, expected {count}")
    minimum_driver = expected.get("min_driver_version")
    if minimum_driver and compare_versions(reading["driverVersion"], minimum_driver) < 0:
        out.append(f"driver {reading['driverVersion']} is older than the minimum {minimum_driver}")
    minimum_cuda = expected.get("min_cuda_version")
    if minimum_cuda:
        if reading["cudaVersion"] is None:
            out.append(f"nvidia-smi reports no CUDA version (N/A), expected the driver to support CUDA {minimum_cuda}")
        elif compare_versions(reading["cudaVersion"], minimum_cuda) < 0:
            out.append(
                f"the driver supports CUDA up to {reading['cudaVersion']} (nvidia-smi's header; not the installed "
                f"toolkit), expected at least {minimum_cuda}"
            )
    model = expected.get("model")
    for gpu in gpus:
        if model is not None and not re.search(model, gpu["name"]):
            out.append(f"GPU {gpu['index']} is {quote(gpu['name'])}, expected a name matching /{model}/")
        minimum_memory = expected.get("min_memory_mib")
        if minimum_memory is not None and gpu["memoryTotalMiB"] < minimum_memory:
            out.append(f"GPU {gpu['index']} has {gpu['memoryTotalMiB']} MiB, expected at least {minimum_memory} MiB")
        if expected.get("no_uncorrected_ecc", True) and (gpu["eccUncorrected"] or 0) > 0:
            out.append(
                f"GPU {gpu['index']} ({gpu['busId']}) has {gpu['eccUncorrected']} uncorrected ECC errors "
                "since the driver loaded"
            )
        mig = expected.get("mig")
        if mig is not None and (gpu["mig"] or "disabled") != mig:
            out.append(f"GPU {gpu['index']} has MIG {gpu['mig'] or 'unsupported'}, expected {mig}")
    return out


def summary(reading: dict) -> str:
    """One line: "2 x NVIDIA A100-SXM4-40GB, driver 580.126.09, CUDA 13.0 (driver's supported)"."""
    names: dict[str, int] = {}
    for gpu in reading["gpus"]:
        names[gpu["name"]] = names.get(gpu["name"], 0) + 1
    models = ", ".join(f"{count} x {name}" for name, count in names.items())
    return f"{models}, driver {reading['driverVersion']}, CUDA {reading['cudaVersion'] or 'N/A'} (driver's supported)"


def memory_used_percent(reading: dict) -> float | None:
    """Memory in use over all GPUs that report it, in percent; None when none does."""
    known = [gpu for gpu in reading["gpus"] if gpu["memoryUsedMiB"] is not None]
    total = sum(gpu["memoryTotalMiB"] for gpu in known)
    if not known or total == 0:
        return None
    return round(100.0 * sum(gpu["memoryUsedMiB"] for gpu in known) / total, 2)
