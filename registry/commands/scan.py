"""`cais scan REF`, `cais findings REF` and `cais vulndb import|status`."""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from collections.abc import Callable
from typing import Any

from tqdm import tqdm

from hooks.scan import results
from hooks.scan.severity import SEVERITIES, at_least
from hooks.scan.trigger import MANUAL, request_scan
from hooks.scan.vulndb import import_database
from storage.errors import ManifestUnknown
from storage.images import ImageRef
from storage.metadata import scans, vulndb
from storage.metadata.scans import ScanRow

from ..services import Services
from . import print_rows
from .repos import image_reference

WAIT_POLL = 0.5


def _digest(services: Services, repository: str, ref: ImageRef) -> str:
    found = services.images.lookup(repository, [ref])[0].image
    if found is None:
        raise ManifestUnknown(f"no image {ref.tag or ref.digest} in {repository}")
    return found.digest


def _when(stamp: float | None) -> str:
    return datetime.datetime.fromtimestamp(stamp, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S") if stamp else "-"


def _counts(row: ScanRow) -> str:
    return ", ".join(f"{row.counts[s]} {s}" for s in SEVERITIES if row.counts.get(s)) or "no findings"


def _run_here(services: Services, row: ScanRow) -> None:
    """Run the scan in this process, showing the bytes of layers read."""
    worker = services.scans
    with services.db.write(durable=False) as conn:
        claimed = scans.claim(conn, worker.holder, worker.lease, only=(row.repository_id, row.digest))
    if claimed is None:
        return  # a server's worker has it: wait for it
    images = worker.scanner.images(row.repository, row.digest)
    total = sum(layer.size for image in images for layer in image.parsed.layers)
    with tqdm(total=total, desc="scanning", unit="B", unit_scale=True, file=sys.stderr, disable=None) as bar:
        worker.run(claimed, bar.update)


def _wait(services: Services, repository: str, digest: str) -> ScanRow:
    while True:
        row = results.scan_of(services.db, repository, digest)
        if row is None or row.status in scans.DONE:
            assert row is not None, "the image was deleted during its scan"
            return row
        time.sleep(WAIT_POLL)


def scan(args: argparse.Namespace, services: Services) -> int:
    repository, ref = args.image
    digest = _digest(services, repository, ref)
    row = request_scan(services.db, repository, digest, MANUAL)
    if args.no_wait:
        print(f"scan of {repository}@{digest} queued; `cais findings` shows the results once it is done")
        return 0
    _run_here(services, row)
    done = _wait(services, repository, digest)
    print(f"{repository}@{digest}: {done.status}: {done.description or ''}".rstrip(), file=sys.stderr)
    if done.status == scans.COMPLETE:
        print(f"{_counts(done)}", file=sys.stderr)
        _print_findings(done, "UNDEFINED", args.json)
    return 0 if done.status in (scans.COMPLETE, scans.UNSUPPORTED) else 1


def _print_findings(row: ScanRow, minimum: str, as_json: bool) -> None:
    found = [f for f in row.findings or [] if at_least(f["severity"], minimum)]
    rows = [
        {
            "severity": f["severity"],
            "name": f["name"],
            "package": f["package"],
            "version": f["version"],
            "fixed in": f.get("fixedIn") or "-",
            "path": f["path"] + (f" ({f['platform']})" if f.get("platform") else ""),
        }
        for f in found
    ]
    print_rows(found if as_json else rows, as_json)


def findings(args: argparse.Namespace, services: Services) -> int:
    repository, ref = args.image
    digest = _digest(services, repository, ref)
    row = results.scan_of(services.db, repository, digest)
    if row is None:
        print(f"cais: {repository}@{digest} has not been scanned: run `cais scan`", file=sys.stderr)
        return 1
    if row.status != scans.COMPLETE:
        print(f"cais: the scan of {repository}@{digest} is {row.status}: {row.description or ''}", file=sys.stderr)
        return 1
    if not args.json:
        updated = _when(row.source_updated_at)
        print(f"scanned {_when(row.completed_at)} with the advisory database of {updated}: {_counts(row)}")
    _print_findings(row, args.severity, args.json)
    return 0


def vulndb_import(args: argparse.Namespace, services: Services) -> int:
    with tqdm(desc="advisories", unit=" records", file=sys.stderr, disable=None) as bar:
        report = import_database(services.db, args.inputs, lambda count: bar.update(count - bar.n))
    for source in report.sources:
        print(
            f"{source.name}: version {source.generation}, {source.advisories} advisories ({source.withdrawn} withdrawn)"
        )
    extra = f", {report.duplicates} duplicate records skipped" if report.duplicates else ""
    print(f"imported {report.advisories} advisories{extra}; {report.rescans} images queued for a new scan")
    return 0


def vulndb_status(args: argparse.Namespace, services: Services) -> int:
    with services.db.read() as conn:
        found = vulndb.sources(conn)
    now = time.time()
    rows = [
        {
            "source": source.name,
            "version": source.generation,
            "advisories": source.advisories,
            "withdrawn": source.withdrawn,
            "imported": _when(source.imported_at),
            "age": f"{(now - source.imported_at) / 86400:.1f} days",
            "origin": source.origin,
        }
        for source in found
    ]
    if not rows and not args.json:
        print("no advisory database imported: run `cais vulndb import PATH|URL`", file=sys.stderr)
    print_rows(rows, args.json)
    return 0


def add(commands: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    scanned = commands.add_parser(
        "scan",
        help="scan an image for vulnerabilities",
        description="Scan IMAGE (REPO:TAG or REPO@DIGEST) now: inventory its packages (dpkg, apk, Python, npm, "
        "Go binaries) layer by layer, match them against the imported advisory database and store the findings "
        "(and the SBOM as a referrer). The scan runs in this process with a progress bar, unless a running "
        "server took it first; then this waits for it. Exit status 1 when the scan failed.",
    )
    scanned.add_argument("image", metavar="IMAGE", type=image_reference)
    scanned.add_argument("--no-wait", action="store_true", help="queue the scan for the server and return")
    scanned.add_argument("--json", action="store_true", help="print the findings as JSON")
    scanned.set_defaults(handler=scan)
    common(scanned)

    listed = commands.add_parser(
        "findings",
        help="show the findings of an image's last scan",
        description="List the vulnerabilities the last scan of IMAGE (REPO:TAG or REPO@DIGEST) found, most severe "
        "first: advisory, package, installed and fixed versions, and the file the package was found in.",
    )
    listed.add_argument("image", metavar="IMAGE", type=image_reference)
    listed.add_argument(
        "--severity", choices=SEVERITIES, default="UNDEFINED", help="show only findings of this severity or worse"
    )
    listed.add_argument("--json", action="store_true", help="print the findings as JSON")
    listed.set_defaults(handler=findings)
    common(listed)

    database = commands.add_parser(
        "vulndb",
        help="manage the advisory database",
        description="The offline vulnerability database: OSV JSON, as osv.dev publishes it per ecosystem (all.zip).",
    )
    actions = database.add_subparsers(dest="action", metavar="ACTION", required=True)
    imported = actions.add_parser(
        "import",
        help="import OSV advisories",
        description="Import OSV advisories from files, directories, zip archives or http(s) URLs of these. The "
        "import is all or nothing: a malformed record refuses it and the current database stays. Each ecosystem "
        "it brings (Debian, Alpine, PyPI, npm, Go...) replaces that ecosystem's advisories; others stay. Every "
        "image scanned before is queued for a new scan.",
    )
    imported.add_argument("inputs", nargs="+", metavar="PATH|URL")
    imported.set_defaults(handler=vulndb_import)
    common(imported)
    status = actions.add_parser(
        "status",
        help="show the imported sources",
        description="Show each source of the advisory database: version, advisories, when it was imported and from "
        "where.",
    )
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(handler=vulndb_status)
    common(status)
