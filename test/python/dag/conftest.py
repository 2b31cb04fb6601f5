"""Fixtures for the generated-DAG tests: the running local stack (real sshd, moto, bare git repo),
a private Airflow home with its own SQLite DB, and DAG variants rendered by the real generator.

Runs many DAG runs in this one process with ``dag.test`` (Airflow import costs seconds per
process). The Airflow line is whatever this interpreter has installed: run the suite with each
stack venv's python.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from importlib.metadata import version as dist_version
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
# The generated DAG's tasks in dependency order (one repository).
TASK_ORDER = [
    "validate_inputs",
    "retrieve_ssh_key",
    "test_ssh_connection",
    "clone_and_checkout_repo",
    "read_version_yaml",
    "update_airflow_variables",
    "cleanup_temp_files",
]
HERE = Path(__file__).resolve().parent
AIRFLOW_VERSION = dist_version("apache-airflow")
AIRFLOW_LINE = AIRFLOW_VERSION.split(".")[0]


def _stack_root() -> Path:
    configured = os.environ.get("MWAA_LOCAL_HOME")
    return Path(configured).resolve() if configured else REPO / ".local-stack"


# The Airflow environment of this session. It must be in place before anything imports airflow.
_HOME = Path(tempfile.mkdtemp(prefix="dagtest-airflow-"))
_TMP = Path(tempfile.mkdtemp(prefix="dagtest-tmp-"))
(_HOME / "dags").mkdir()
os.environ.update(
    {
        "AIRFLOW_HOME": str(_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(_HOME / "dags"),
        # MWAA extracts plugins.zip into the plugins folder, which Airflow puts on sys.path.
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "templates" / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_HOME}/airflow.db",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(_HOME / "logs"),
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "30",
        "TMPDIR": str(_TMP),
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        # Task processes run `airflow ...`: the one of this interpreter's venv.
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }
)
# Used only by dag.test(use_executor=True): every task in its own process and TMPDIR.
os.environ["AIRFLOW__CORE__EXECUTOR"] = "isolating_executor.IsolatingExecutor"
if AIRFLOW_LINE == "3":
    # Task processes of Airflow 3 talk to an api-server (started only by the test that needs it).
    with socket.socket() as _s:
        _s.bind(("127.0.0.1", 0))
        _API_PORT = _s.getsockname()[1]
    os.environ.update(
        {
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(_API_PORT),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{_API_PORT}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": uuid.uuid4().hex,
        }
    )
tempfile.tempdir = None
sys.path.insert(0, str(HERE))
# The DAG library's source (templates/dag/gpu_cicd_lib), imported by the tests as it is.
sys.path.insert(0, str(REPO / "templates" / "dag"))
# Airflow puts the DAG folder on sys.path in every process that runs tasks or DAG callbacks (2.x
# when it starts, 3.x in the bundle's DAG bag); dag.test runs them in this process.
sys.path.append(str(_HOME / "dags"))

# Every log record of the session, formatted with tracebacks: scanned for key material at the end.
LOG_LINES: list[str] = []


class _Collect(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            LOG_LINES.append(self.format(record))
        except Exception:
            LOG_LINES.append(repr(record.msg))


_collector = _Collect(level=logging.DEBUG)
_collector.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))


def collect_logs() -> None:
    """(Re)attaches the collector: Airflow's logging setup replaces the root logger's handlers."""
    for name in ("", "airflow.task"):
        logger = logging.getLogger(name)
        if _collector not in logger.handlers:
            logger.addHandler(_collector)


def pytest_sessionfinish(session, exitstatus):  # noqa: ARG001 - pytest's hook signature
    shutil.rmtree(_TMP, ignore_errors=True)
    if exitstatus == 0:
        shutil.rmtree(_HOME, ignore_errors=True)
    else:
        sys.stderr.write(f"\nAirflow home of the DAG tests kept for inspection: {_HOME}\n")


@pytest.fixture(scope="session")
def stack() -> dict:
    path = _stack_root() / "state.json"
    if not path.is_file():
        pytest.fail(f"The local stack is not up: {path} is missing. Run: npm run local -- up --airflow {AIRFLOW_LINE}")
    state = json.loads(path.read_text())
    if state.get("airflowLine") != AIRFLOW_LINE:
        sys.stderr.write(
            f"note: the stack runs Airflow {state.get('airflowVersion')}, these tests run with {AIRFLOW_VERSION}\n"
        )
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": state["endpoints"]["secretsManager"],
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": state["region"],
        }
    )
    return state


@pytest.fixture(scope="session")
def airflow_home() -> Path:
    return _HOME


@pytest.fixture(scope="session")
def session_tmp() -> Path:
    return _TMP


@pytest.fixture(scope="session")
def airflow_db(stack) -> Path:  # noqa: ARG001 - the stack's env must be set first
    """A migrated SQLite DB; migrating costs ~15 s, so a pristine copy is kept per Airflow version."""
    cache = Path("/tmp") / f"mwaa-gpu-cicd-dagtest-{AIRFLOW_VERSION}.db"
    db = _HOME / "airflow.db"
    if not cache.is_file():
        subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"],
            check=True,
            env=os.environ,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        shutil.copyfile(db, f"{cache}.tmp")
        os.replace(f"{cache}.tmp", cache)
    else:
        shutil.copyfile(cache, db)
    return db


def _git(*args: str, cwd: Path | None = None) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


MISSING_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:dagtest-no-such-secret-AbCdEf"
# Another region gets its own boto3 client, pointed at an access-denied endpoint by the test.
DENIED_ARN = "arn:aws:secretsmanager:eu-west-3:123456789012:secret:gpu-server-ssh-key-AbCdEf"

# A file that must never exist: every injection attempt of the tests tries to create it.
CANARY = _TMP.parent / f"dagtest-canary-{uuid.uuid4().hex}"

BRANCH_FILES = {
    # branch -> www/version.yaml content (None: no file)
    "t-vf-missing": None,
    "t-vf-list": "- a\n- b\n",
    "t-vf-big": "a: 1\nb: 2\nc: 3\nd: '" + "x" * 70_000 + "'\n",
    "t-vf-pytag": f'a: !!python/object/apply:os.system ["touch {CANARY}"]\nb: 2\nc: 3\nd: 4\n',
    "t-vf-missing-key": "a: 1\nb: 2\n",
    # Nested aliases: PyYAML shares the references, a repr() of it is 9**6 items long.
    "t-vf-bomb": "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n",
    # Deep enough that composing it recursively exhausts Python's stack.
    "t-vf-deep": "a: " + "[" * 5000 + "]" * 5000 + "\nb: 2\nc: 3\nd: 4\n",
}

RETRIED_BRANCHES = {"t-vf-bomb", "t-vf-deep"}

# DAG variants rendered for the tests, each into dags/<name>/<name>.py.
VARIANTS = ["main", "multi", "tworepos", "badhostkey", "down", "nobranch", "missingsecret", "deniedsecret"] + [
    branch.removeprefix("t-").replace("-", "_") for branch in BRANCH_FILES
]
if AIRFLOW_LINE == "3":
    # Airflow 3's dag.test re-parses the DAG's whole bundle on every call: one bundle per variant
    # keeps that to one file. dag.test(use_executor=True) names the bundle "dags-folder": it comes
    # last, so that the variants' own bundles are the ones synced.
    _LOCAL_BUNDLE = "airflow.dag_processing.bundles.local.LocalDagBundle"
    os.environ["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"] = json.dumps(
        [
            *(
                {
                    "name": f"dagtest-{name}",
                    "classpath": _LOCAL_BUNDLE,
                    "kwargs": {"path": str(_HOME / "dags" / name), "refresh_interval": 0},
                }
                for name in VARIANTS
            ),
            {"name": "dags-folder", "classpath": _LOCAL_BUNDLE, "kwargs": {"path": str(_HOME / "dags")}},
        ]
    )


@pytest.fixture(scope="session")
def test_repo(stack) -> Path:
    """A copy of the stack's bare repo with one branch per broken version file."""
    root = Path(tempfile.mkdtemp(prefix="dagtest-repo-", dir="/tmp"))
    bare = root / "cicd-test.git"
    _git("clone", "-q", "--bare", stack["git"]["remoteUrl"], str(bare))
    work = root / "work"
    _git("clone", "-q", str(bare), str(work))
    for branch, content in BRANCH_FILES.items():
        _git("checkout", "-q", "-B", branch, f"origin/{stack['git']['branch']}", cwd=work)
        target = work / "www" / "version.yaml"
        if content is None:
            target.unlink()
        else:
            target.write_text(content)
        _git("add", "-A", cwd=work)
        _git("commit", "-q", "-m", f"test: {branch}", cwd=work)
        _git("push", "-q", "origin", branch, cwd=work)
    yield bare
    shutil.rmtree(root, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def wrong_host_key() -> str:
    d = Path(tempfile.mkdtemp(prefix="dagtest-hk-"))
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "k")], check=True)
    line = " ".join((d / "k.pub").read_text().split()[:2])
    shutil.rmtree(d)
    return line


@pytest.fixture(scope="session")
def dag_files(stack, test_repo, wrong_host_key, airflow_db) -> dict:  # noqa: ARG001
    """Renders every DAG variant with the real config loader and renderDag (one tsx process), each
    with the DAG library beside it as the generator ships it."""
    ssh = stack["ssh"]
    dead_port = free_port()
    server = {
        "name": "local-gpu",
        "host": ssh["host"],
        "port": ssh["port"],
        "workspacePath": stack["workspace"],
        "hostPublicKey": ssh["hostPublicKey"],
    }
    on_copy = {"git": {"repoUrl": str(test_repo)}}

    def variant(name, **overrides):
        overrides.setdefault("dag", {})["id"] = f"t_{name}"
        return {"name": name, "overrides": overrides}

    variants = [
        {"name": "main", "env": "local"},
        variant(
            "multi",
            dag={"serverConcurrency": 2},
            servers=[
                {**server, "name": "gpu-01", "workspacePath": f"{stack['workspace']}/multi-01"},
                {**server, "name": "gpu-02", "workspacePath": f"{stack['workspace']}/multi-02"},
                {**server, "name": "gpu-03", "port": dead_port, "workspacePath": f"{stack['workspace']}/multi-03"},
            ],
        ),
        # Three repositories on two servers: one clones and publishes, one names a branch that does
        # not exist, one is only checked out.
        variant(
            "tworepos",
            dag={"maxActiveTasks": 4},
            git=None,
            repositories=[
                {
                    "name": "good",
                    "url": str(test_repo),
                    "branch": stack["git"]["branch"],
                    "checkoutDir": "good",
                    "versionFile": "www/version.yaml",
                },
                {
                    "name": "broken",
                    "url": str(test_repo),
                    "branch": "t-no-such-branch",
                    "checkoutDir": "broken",
                    "versionFile": "www/version.yaml",
                },
                {"name": "code-only", "url": str(test_repo), "branch": "t-vf-missing", "checkoutDir": "repos/code"},
            ],
            servers=[
                {**server, "name": "gpu-01", "workspacePath": f"{stack['workspace']}/repos-01"},
                {**server, "name": "gpu-02", "workspacePath": f"{stack['workspace']}/repos-02"},
            ],
        ),
        variant("badhostkey", servers=[{**server, "hostPublicKey": wrong_host_key}]),
        variant("down", servers=[{**server, "port": dead_port}]),
        variant("nobranch", git={"repoUrl": str(test_repo), "branch": "t-no-such-branch"}),
        # Runs may only use the configured secret: these configure one that is missing or denied.
        variant("missingsecret", secrets={"sshKeyArn": MISSING_ARN}),
        variant("deniedsecret", secrets={"sshKeyArn": DENIED_ARN}),
        *[
            variant(
                branch.removeprefix("t-").replace("-", "_"),
                git={**on_copy["git"], "branch": branch},
                # A bad file must fail at once: with retries allowed, a retry would show.
                dag={"retries": 1, "retryDelaySeconds": 1} if branch in RETRIED_BRANCHES else {},
            )
            for branch in BRANCH_FILES
        ],
    ]
    assert [v["name"] for v in variants] == VARIANTS
    spec = json.dumps({"outDir": str(_HOME / "dags"), "variants": variants})
    tsx = REPO / "node_modules" / ".bin" / "tsx"
    done = subprocess.run(
        [str(tsx), str(HERE / "render_variants.ts")], input=spec, capture_output=True, text=True, cwd=REPO, check=False
    )
    if done.returncode != 0:
        pytest.fail(f"rendering the DAG variants failed:\n{done.stderr[-3000:]}")
    rendered = json.loads(done.stdout)
    rendered["_dead_port"] = dead_port
    return rendered


@pytest.fixture(scope="session")
def dagbag(dag_files):
    from airflow.models import DagBag

    # load_examples is off in the environment (3.x has no include_examples argument).
    return DagBag(dag_folder=str(_HOME / "dags"))


@pytest.fixture(scope="session")
def private_key_text(stack) -> str:
    return Path(stack["ssh"]["clientKeyPath"]).read_text()


def key_fragments(key_text: str) -> list[str]:
    """Pieces of a private key that must never appear in a log or XCom."""
    body = [line.strip() for line in key_text.splitlines() if line.strip() and "PRIVATE KEY" not in line]
    fragments = [line for line in body if len(line) >= 16]
    fragments.append("".join(body)[:40])
    return fragments


@dataclass
class Run:
    dag_id: str
    run_id: str
    state: str
    tis: dict  # (task_id, map_index) -> state
    xcoms: dict  # (task_id, map_index, key) -> value
    log: str
    extra: dict = field(default_factory=dict)

    def task_state(self, task_id: str, map_index: int = 0) -> str | None:
        if (task_id, map_index) in self.tis:
            return self.tis[(task_id, map_index)]
        return self.tis.get((task_id, -1))

    def failed_tasks(self) -> list[str]:
        return sorted({t for (t, _), s in self.tis.items() if s == "failed"})

    def result(self, task_id: str, map_index: int = 0):
        for idx in (map_index, -1):
            if (task_id, idx, "return_value") in self.xcoms:
                return self.xcoms[(task_id, idx, "return_value")]
        return None


RUNS: list[Run] = []


def xcom_rows(dag_id: str, run_id: str) -> dict:
    from airflow.utils.session import create_session

    out = {}
    if AIRFLOW_LINE == "2":
        from airflow.models.xcom import BaseXCom, XCom

        with create_session() as session:
            keys = (
                session.query(BaseXCom.task_id, BaseXCom.map_index, BaseXCom.key)
                .filter(BaseXCom.dag_id == dag_id, BaseXCom.run_id == run_id)
                .all()
            )
        for task_id, map_index, key in keys:
            out[(task_id, map_index, key)] = XCom.get_one(
                run_id=run_id, dag_id=dag_id, task_id=task_id, map_index=map_index, key=key
            )
    else:
        from airflow.models.xcom import XComModel

        with create_session() as session:
            rows = session.query(XComModel).filter(XComModel.dag_id == dag_id, XComModel.run_id == run_id).all()
            for row in rows:
                value = row.value
                if isinstance(value, str | bytes):
                    try:
                        value = json.loads(value)
                    except ValueError:
                        pass
                out[(row.task_id, row.map_index, row.key)] = value
    return out


_CAPTURE: list = []


@pytest.fixture(autouse=True)
def _capture_output(capfd):
    """Airflow 3 renders task logs and tracebacks with structlog on stdout, not through the
    logging records the collector sees: run_dag reads the captured output too."""
    _CAPTURE.append(capfd)
    yield
    _CAPTURE.remove(capfd)


def run_dag(dag, conf: dict | None = None, **kwargs) -> Run:
    """One DAG run in this process; returns states, XComs and the log lines of the run."""
    collect_logs()
    if _CAPTURE:
        _CAPTURE[-1].readouterr()
    start = len(LOG_LINES)
    try:
        dag_run = dag.test(run_conf=conf or {}, **kwargs)
    finally:
        if _CAPTURE:
            captured = _CAPTURE[-1].readouterr()
            LOG_LINES.append(captured.out + captured.err)
            # Keep it visible in pytest's report of a failing test.
            sys.stdout.write(captured.out[-20000:])
    tis = {
        (ti.task_id, ti.map_index): str(ti.state.value if hasattr(ti.state, "value") else ti.state)
        for ti in dag_run.get_task_instances()
    }
    tries = {(ti.task_id, ti.map_index): ti.try_number for ti in dag_run.get_task_instances()}
    state = dag_run.state.value if hasattr(dag_run.state, "value") else str(dag_run.state)
    run = Run(
        dag.dag_id,
        dag_run.run_id,
        state,
        tis,
        xcom_rows(dag.dag_id, dag_run.run_id),
        "\n".join(LOG_LINES[start:]),
        {"tries": tries},
    )
    RUNS.append(run)
    return run


@pytest.fixture
def workspace(stack) -> str:
    """A workspace of this test only, on the 'GPU server' (the stack's sshd runs on this machine)."""
    path = Path(stack["workspace"]) / f"dagtest-{uuid.uuid4().hex[:10]}"
    yield str(path)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def execution_api(airflow_db):  # noqa: ARG001
    """Airflow 3 only: a real api-server on this session's DB, for tasks run in other processes."""
    if AIRFLOW_LINE == "2":
        yield None
        return
    import time
    import urllib.request

    log = open(_HOME / "api-server.log", "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [sys.executable, "-m", "airflow", "api-server"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=os.environ,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{os.environ['AIRFLOW__API__PORT']}/api/v2/monitor/health"
    deadline = time.monotonic() + 180
    try:
        while True:
            if server.poll() is not None:
                pytest.fail(f"airflow api-server exited {server.returncode}; see {_HOME / 'api-server.log'}")
            try:
                with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - fixed loopback URL
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("airflow api-server did not become healthy within 180 s")
            time.sleep(1)
        yield url
    finally:
        os.killpg(server.pid, 15)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, 9)
        log.close()
