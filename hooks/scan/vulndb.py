"""Importing an OSV advisory database: files, directories, zips (osv.dev's per-ecosystem
`all.zip`) and URLs of any of these, several at once.

The import is all or nothing: records are checked and loaded into a new generation of each
source (ecosystem family) they name, and one transaction makes the new generations current
and queues every image scanned before for a new scan. A malformed record anywhere refuses the
whole import and leaves the current database as it was. Sources the import does not bring keep
their current generation, so importing PyPI after Debian keeps both.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from storage.errors import StoreError
from storage.metadata import scans, vulndb
from storage.metadata.engine import Database
from storage.metadata.locks import run_exclusively
from storage.metadata.vulndb import SourceRow

from .osv import Advisory, OsvError, family, parse

BATCH = 500  # advisories per insert transaction
LEASE = 6 * 3600.0
DOWNLOAD_TIMEOUT = 60.0
Progress = Callable[[int], object]  # called with the number of records read so far


class ImportRefused(StoreError):
    """The import was refused; nothing changed. The message says why."""


@dataclass
class ImportReport:
    sources: list[SourceRow]
    advisories: int
    withdrawn: int
    duplicates: int
    rescans: int


@dataclass
class _Loading:
    """One source's new generation being written."""

    generation: int
    advisories: int = 0
    withdrawn: int = 0
    seen: set[str] = field(default_factory=set)


def _download(url: str, stack: ExitStack) -> str:
    """The URL's content in a temporary file that lives as long as `stack`."""
    directory = stack.enter_context(tempfile.TemporaryDirectory(prefix="cais-vulndb-"))
    target = os.path.join(directory, "download")
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as response, open(target, "wb") as out:
            shutil.copyfileobj(response, out, 1 << 20)
    except OSError as exc:
        raise ImportRefused(f"{url}: download failed: {exc}") from None
    return target


def _decoded(data: bytes, where: str) -> Iterator[tuple[str, Any]]:
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ImportRefused(f"{where}: not valid JSON: {exc}") from None
    for number, record in enumerate(document if isinstance(document, list) else [document]):
        yield (f"{where}[{number}]" if isinstance(document, list) else where), record


def _records(inputs: list[str], stack: ExitStack) -> Iterator[tuple[str, Any]]:
    """(where, decoded JSON) of every record of every input."""
    for given in inputs:
        path = _download(given, stack) if given.startswith(("http://", "https://")) else given
        if os.path.isdir(path):
            for directory, subdirectories, files in os.walk(path):
                subdirectories.sort()
                for name in sorted(f for f in files if f.endswith(".json")):
                    full = os.path.join(directory, name)
                    with open(full, "rb") as handle:
                        yield from _decoded(handle.read(), full)
        elif zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                for name in sorted(n for n in archive.namelist() if n.endswith(".json")):
                    yield from _decoded(archive.read(name), f"{given}:{name}")
        elif os.path.isfile(path):
            with open(path, "rb") as handle:
                yield from _decoded(handle.read(), given)
        else:
            raise ImportRefused(f"{given}: no such file, directory or URL")


def _rows(advisory: Advisory, source: str, generation: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    rating = advisory.rating
    row = {
        "source": source,
        "generation": generation,
        "id": advisory.id,
        "aliases": json.dumps(list(advisory.aliases)),
        "severity": rating.severity,
        "score": rating.score,
        "vector": rating.vector,
        "cvss_version": rating.version,
        "summary": advisory.summary,
        "uri": advisory.uri,
        "modified": advisory.modified,
    }
    affected = [
        {
            "source": source,
            "generation": generation,
            "advisory": advisory.id,
            "ecosystem": entry.ecosystem,
            "package": entry.name,
            "ranges": json.dumps(entry.to_json(), separators=(",", ":")),
        }
        for entry in advisory.affected
        if family(entry.ecosystem) == source
    ]
    return row, affected


class _Importer:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.loading: dict[str, _Loading] = {}
        self.duplicates = 0
        self.pending: tuple[list[dict[str, Any]], list[dict[str, Any]]] = ([], [])

    def add(self, advisory: Advisory) -> None:
        for source in sorted({family(entry.ecosystem) for entry in advisory.affected}):
            if source not in self.loading:
                with self.db.write() as conn:
                    self.loading[source] = _Loading(vulndb.prepare(conn, source))
            state = self.loading[source]
            if advisory.withdrawn:
                state.withdrawn += 1
                continue
            if advisory.id in state.seen:
                self.duplicates += 1
                continue
            state.seen.add(advisory.id)
            state.advisories += 1
            row, affected = _rows(advisory, source, state.generation)
            self.pending[0].append(row)
            self.pending[1].extend(affected)
        if len(self.pending[0]) >= BATCH:
            self.flush()

    def flush(self) -> None:
        if self.pending[0]:
            with self.db.write(durable=False) as conn:
                vulndb.insert(conn, *self.pending)
        self.pending = ([], [])

    def commit(self, origin: str) -> tuple[list[SourceRow], int]:
        self.flush()
        now = time.time()
        imported = [
            SourceRow(name, state.generation, now, origin[:2000], state.advisories, state.withdrawn)
            for name, state in sorted(self.loading.items())
        ]
        with self.db.write() as conn:
            vulndb.switch(conn, imported)
            rescans = scans.request_all(conn, "vulndb")
        for source in imported:
            with self.db.write(durable=False) as conn:
                vulndb.drop_other_generations(conn, source.name, source.generation)
        return imported, rescans

    def abandon(self) -> None:
        """Remove what a refused import wrote (the next import of a source would, too)."""
        for name in self.loading:
            with self.db.write(durable=False) as conn:
                current = {s.name: s.generation for s in vulndb.sources(conn)}.get(name)
                vulndb.drop_other_generations(conn, name, current)


def _run(db: Database, inputs: list[str], progress: Progress | None) -> ImportReport:
    importer = _Importer(db)
    count = 0
    try:
        with ExitStack() as stack:
            for where, record in _records(inputs, stack):
                try:
                    importer.add(parse(record))
                except OsvError as exc:
                    raise ImportRefused(f"{where}: not an OSV record: {exc}") from None
                count += 1
                if progress is not None:
                    progress(count)
        if not importer.loading:
            raise ImportRefused(f"no OSV records with affected packages in {', '.join(inputs)}")
        imported, rescans = importer.commit(" ".join(inputs))
    except BaseException:
        importer.abandon()
        raise
    advisories = sum(s.advisories for s in imported)
    withdrawn = sum(s.withdrawn for s in imported)
    return ImportReport(imported, advisories, withdrawn, importer.duplicates, rescans)


def import_database(db: Database, inputs: list[str], progress: Progress | None = None) -> ImportReport:
    """Import OSV records from files, directories, zips or URLs; ImportRefused when refused."""
    report = run_exclusively(db, "vulndb-import", LEASE, lambda: _run(db, inputs, progress))
    if report is None:
        raise ImportRefused("another import of the advisory database is running; try again when it is done")
    return report
