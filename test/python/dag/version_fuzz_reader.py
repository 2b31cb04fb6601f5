"""The DAG's side of the version-file fuzzer (test/fuzz/version-fuzz.ts): reads a batch of documents
with the DAG library's read_version_document (templates/dag/gpu_cicd_lib/version_file.py), in this
one process, and writes one answer per line.

The batch file (the first argument): {"limits": {...}, "documents": ["...", ...]} as JSON.
stdout: per document {"ok": true, "value": <typed>} or {"ok": false, "reason": "..."}, or
{"crash": "..."} when the reader raised anything but VersionFileError (a bug of its own).

Typed values (the same encoding as typed() in version-fuzz.ts): strings as JSON strings with every
character outside printable ASCII, and the backslash, written as \\u{<code point in hex>} (so that
two surrogate code points never equal one astral character); integers {"int": "<digits>"}; floats
{"float": "<IEEE 754 bits in hex>"} or {"float": "nan"}; mappings {"map": [[key, value], ...]} in
document order; lists, booleans and null as JSON.
"""

from __future__ import annotations

import json
import math
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "templates" / "dag"))
from gpu_cicd_lib import version_file as lib  # noqa: E402 - the package is found through the path set above


def text(value: str) -> str:
    return "".join(c if " " <= c <= "~" and c != "\\" else f"\\u{{{ord(c):x}}}" for c in value)


def typed(value):
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return text(value)
    if isinstance(value, int):
        return {"int": str(value)}
    if isinstance(value, float):
        return {"float": "nan" if math.isnan(value) else struct.pack(">d", value).hex()}
    if isinstance(value, list):
        return [typed(item) for item in value]
    if isinstance(value, dict):
        return {"map": [[typed(key), typed(item)] for key, item in value.items()]}
    return {"unexpected": type(value).__name__}


def main() -> None:
    batch = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    out = sys.stdout
    for document in batch["documents"]:
        try:
            answer = {"ok": True, "value": typed(lib.read_version_document(document, batch["limits"]))}
        except lib.VersionFileError as exc:
            answer = {"ok": False, "reason": str(exc)}
        except Exception as exc:  # noqa: BLE001 - any other exception is the reader's bug: reported
            answer = {"crash": f"{type(exc).__name__}: {exc}"}
        out.write(json.dumps(answer) + "\n")


if __name__ == "__main__":
    main()
