/**
 * Small Python programs the control plane runs in the stack's venv. Kept as strings passed to
 * `python -c`, with data only in argv, so nothing is interpolated into code.
 */

/** argv: zip path, target dir. zipfile drops absolute paths and `..` parts while extracting. */
export const EXTRACT_ZIP = `
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as archive:
    archive.extractall(sys.argv[2])
`;

/**
 * argv: plugins dir. Imports every top-level module and package in it (as MWAA's
 * /usr/local/airflow/plugins makes them importable) and prints a JSON report; exit 1 on failure.
 */
export const CHECK_IMPORTS = `
import importlib, json, os, sys, traceback
root = sys.argv[1]
sys.path.insert(0, root)
names = []
for entry in sorted(os.listdir(root)):
    path = os.path.join(root, entry)
    if entry.startswith('.') or entry == '__pycache__':
        continue
    if os.path.isfile(path) and entry.endswith('.py'):
        names.append(entry[:-3])
    elif os.path.isdir(path) and os.path.isfile(os.path.join(path, '__init__.py')):
        names.append(entry)
failures = []
for name in names:
    try:
        importlib.import_module(name)
    except BaseException as error:
        last = traceback.format_exception_only(type(error), error)[-1].strip()
        failures.append({'module': name, 'error': last})
print(json.dumps({'modules': names, 'failures': failures}))
sys.exit(1 if failures else 0)
`;

/**
 * A fork server for the Airflow CLI. It imports Airflow once (3-7 s of CPU on this machine) and
 * forks a child per command, which runs `airflow <argv>` exactly as the console script would,
 * with its stdout/stderr sent to the files named in the request. Requests arrive as JSON lines
 * on stdin; replies ({"id", "pid"} once forked, {"id", "code"} once exited) go as JSON lines to
 * fd 3, so nothing Airflow prints can corrupt the protocol. EOF on stdin stops the server.
 */
export const CLI_FORK_SERVER = `
import json, os, select, signal, sys
import airflow
import airflow.__main__
from airflow import settings
reply = os.fdopen(3, "w", buffering=1)
def send(message):
    reply.write(json.dumps(message) + "\\n")
send({"ready": True, "version": airflow.__version__})
running = {}
def child(request):
    code = 1
    try:
        os.setpgid(0, 0)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        out = os.open(request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        err = os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out, 1)
        os.dup2(err, 2)
        for fd in (devnull, out, err, 3):
            os.close(fd)
        os.chdir(request["cwd"])
        # Connections opened by the parent must not be shared with the child.
        engine = getattr(settings, "engine", None)
        if engine is not None:
            engine.dispose(close=False)
        sys.argv = ["airflow", *request["argv"]]
        try:
            airflow.__main__.main()
            code = 0
        except SystemExit as error:
            if error.code is None:
                code = 0
            elif isinstance(error.code, int):
                code = error.code
            else:
                print(error.code, file=sys.stderr)
                code = 1
        except BaseException:
            import traceback
            traceback.print_exc()
            code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)
buffer = b""
closing = False
while not closing or running:
    readable, _, _ = select.select([0] if not closing else [], [], [], 0.05)
    if readable:
        chunk = os.read(0, 65536)
        if not chunk:
            closing = True
        buffer += chunk
        while b"\\n" in buffer:
            line, buffer = buffer.split(b"\\n", 1)
            if not line.strip():
                continue
            request = json.loads(line)
            pid = os.fork()
            if pid == 0:
                child(request)
            running[pid] = request["id"]
            send({"id": request["id"], "pid": pid})
    while running:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            for request_id in running.values():
                send({"id": request_id, "code": None})
            running.clear()
            break
        if pid == 0:
            break
        request_id = running.pop(pid, None)
        if request_id is not None:
            send({"id": request_id, "code": os.waitstatus_to_exitcode(status)})
`;

/**
 * argv: served (JSON {file or URL: local path}), refused-log path, then pip's own arguments.
 * Runs pip in this process with its requirements-file reader (`req_file.get_file_content`) able
 * to open only the files in `served`: every file a requirements.txt names, in whatever form pip
 * accepts, comes through it. Anything else is written to the refused log and stops pip, so pip
 * parses the file exactly as it would on MWAA and still never reaches the network for one.
 */
export const PIP_SERVED_FILES = `
import json, sys
from pip._internal.exceptions import InstallationError
from pip._internal.req import req_file
served, refused_log, pip_args = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3:]
original = getattr(req_file, 'get_file_content', None)
if original is None:
    sys.exit('this pip has no req_file.get_file_content: the local stack must learn its reader anew')
def get_file_content(url, session):
    if url in served:
        _, content = original(served[url], session)
        return url, content
    with open(refused_log, 'a') as log:
        log.write(json.dumps(url) + '\\n')
    raise InstallationError(f'{url}: the local stack does not fetch it')
req_file.get_file_content = get_file_content
from pip._internal.cli.main import main
sys.exit(main(pip_args))
`;
