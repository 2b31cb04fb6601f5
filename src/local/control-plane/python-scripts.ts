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
 * argv: requirements file. Checks each requirement against the installed distributions without
 * any network (importlib.metadata + packaging, both present in an Airflow venv). pip options
 * (--constraint, -c, --index-url, ...) are skipped: the local stack installs nothing.
 * Prints a JSON report; exit 1 when something is missing or the wrong version.
 */
export const CHECK_REQUIREMENTS = `
import json, sys
from importlib import metadata
from packaging.requirements import Requirement, InvalidRequirement
from packaging.utils import canonicalize_name
installed = {}
for dist in metadata.distributions():
    name = dist.metadata['Name']
    if name:
        installed.setdefault(canonicalize_name(name), dist.version)
problems, checked = [], []
with open(sys.argv[1], encoding='utf-8') as handle:
    lines = handle.read().splitlines()
for number, raw in enumerate(lines, 1):
    line = raw.split(' #', 1)[0].strip()
    if not line or line.startswith('#') or line.startswith('-'):
        continue
    try:
        req = Requirement(line)
    except InvalidRequirement as error:
        problems.append(f'line {number}: {line}: {error}')
        continue
    if req.marker is not None and not req.marker.evaluate():
        continue
    if req.url:
        problems.append(f'line {number}: {line}: URL requirements cannot be checked offline')
        continue
    version = installed.get(canonicalize_name(req.name))
    checked.append(req.name)
    if version is None:
        problems.append(f'line {number}: {req.name} is not installed')
    elif req.specifier and not req.specifier.contains(version, prereleases=True):
        problems.append(f'line {number}: {req.name} {version} is installed, {req.specifier} is required')
print(json.dumps({'checked': checked, 'problems': problems}))
sys.exit(1 if problems else 0)
`;
