"""What every module of the library shares: its logger and a bounded repr."""

from __future__ import annotations

import logging

log = logging.getLogger("airflow.task.gpu_server_cicd")


def shown(value: object, limit: int = 80) -> str:
    """A bounded repr: values from a version file may share references (YAML aliases) or nest
    deeply, so a plain repr() could take seconds and gigabytes."""
    import reprlib

    shortener = reprlib.Repr()
    shortener.maxlevel = 3
    shortener.maxdict = shortener.maxlist = shortener.maxtuple = shortener.maxset = 4
    shortener.maxstring = shortener.maxother = limit
    text = shortener.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
