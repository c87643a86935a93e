"""What `cais` checks before it touches its data, so that an unusable directory is one line of
explanation, not a traceback from deep inside SQLite or the blob store."""

from __future__ import annotations

import os
import tempfile

from sqlalchemy.engine import make_url

from .config import Settings


def _directory_problem(what: str, path: str) -> str | None:
    if os.path.exists(path) and not os.path.isdir(path):
        return f"cannot use {path} as the {what}: it is not a directory"
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass  # can files be created there?
    except OSError as exc:
        return f"cannot use {path} as the {what}: {exc.strerror}"
    return None


def data_problem(settings: Settings) -> str | None:
    """Why the data directory, the blob directory or the SQLite database cannot be written, or None."""
    places = [("data directory", settings.data_dir)]
    if settings.storage.driver == "filesystem":
        places.append(("blob directory", settings.blob_root))
    url = make_url(settings.metadata_url)
    database = url.database if url.get_backend_name() == "sqlite" else None
    if database and database != ":memory:":
        places.append(("database directory", os.path.dirname(os.path.abspath(database))))
    for what, path in places:
        problem = _directory_problem(what, path)
        if problem:
            return problem
    for path in [database, f"{database}.writer"] if database and database != ":memory:" else []:
        if os.path.exists(path) and not os.path.isfile(path):
            return f"cannot use {path} as the metadata database: it is not a file"
        if os.path.exists(path) and not os.access(path, os.R_OK | os.W_OK):
            return f"cannot use {path} as the metadata database: permission denied"
    return None
