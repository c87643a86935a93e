"""Matching an inventory against the advisory database.

Each package is looked up in its ecosystem under the name its advisories use: Debian and
Alpine advisories name source packages (libssl3 is affected through openssl), at the source
package's version; PyPI names are compared normalized. Operating-system packages need the
distribution release (`Debian:12`, `Alpine:v3.19`) from os-release: without it they match
nothing. Findings come back most severe first, in the stored shape (see finding()).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from storage.metadata import vulndb
from storage.metadata.vulndb import AdvisoryRow, AffectedRow

from .inventory import Inventory
from .osv import Affected, lookup_name
from .packages import APK, DEB, GOLANG, MANAGERS, NPM, PYPI, OperatingSystem, Package
from .severity import SEVERITIES
from .versions import Verdict, evaluate

_LANGUAGES = {PYPI: "PyPI", NPM: "npm", GOLANG: "Go"}


@dataclass(frozen=True, slots=True)
class Lookup:
    ecosystem: str
    name: str
    version: str


def ecosystem_of(kind: str, system: OperatingSystem | None) -> str | None:
    if kind in _LANGUAGES:
        return _LANGUAGES[kind]
    if system is None or not system.version_id:
        return None
    if kind == DEB and system.id == "debian":
        return f"Debian:{system.version_id.split('.')[0]}"
    if kind == APK and system.id == "alpine":
        return "Alpine:v" + ".".join(system.version_id.split(".")[:2])
    return None


def lookup(package: Package, system: OperatingSystem | None) -> Lookup | None:
    ecosystem = ecosystem_of(package.kind, system)
    if ecosystem is None or package.version == "(devel)":
        return None
    if package.kind in (DEB, APK):
        return Lookup(ecosystem, package.source or package.name, package.source_version or package.version)
    return Lookup(ecosystem, lookup_name(ecosystem, package.name), package.version)


def finding(advisory: AdvisoryRow, package: Package, verdict: Verdict, platform: str | None) -> dict[str, Any]:
    """A finding as stored with the scan (the ECR API and the CLI present it)."""
    cve = next((alias for alias in advisory.aliases if alias.startswith("CVE-")), None)
    return {
        "name": cve or advisory.id,
        "id": advisory.id,
        "aliases": advisory.aliases,
        "severity": advisory.severity,
        "score": advisory.score,
        "vector": advisory.vector,
        "cvssVersion": advisory.cvss_version,
        "description": advisory.summary,
        "uri": advisory.uri,
        "package": package.name,
        "version": package.version,
        "kind": package.kind,
        "manager": MANAGERS[package.kind],
        "sourcePackage": package.source,
        "fixedIn": verdict.fixed_in,
        "path": package.path,
        "layer": package.layer,
        "arch": package.arch,
        "platform": platform,
    }


def order(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(found, key=lambda f: (SEVERITIES.index(f["severity"]), f["name"], f["package"], f["path"]))


def match(conn: Connection, inventory: Inventory, platform: str | None = None) -> list[dict[str, Any]]:
    """The findings of an inventory (one platform's image), most severe first."""
    wanted: dict[str, dict[str, list[tuple[Package, Lookup]]]] = defaultdict(lambda: defaultdict(list))
    for package in inventory.packages:
        key = lookup(package, inventory.system)
        if key is not None:
            wanted[key.ecosystem][key.name].append((package, key))
    hits: list[tuple[AffectedRow, Package, Verdict]] = []
    for ecosystem, names in wanted.items():
        for row in vulndb.affected(conn, ecosystem, names):
            entry = Affected.from_json(row.ecosystem, row.package, row.ranges)
            for package, key in names[row.package]:
                verdict = evaluate(key.version, entry)
                if verdict.affected:
                    hits.append((row, package, verdict))
    details = vulndb.advisories(conn, {(row.source, row.generation, row.advisory) for row, _, _ in hits})
    unique: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for row, package, verdict in hits:
        found = finding(details[row.advisory], package, verdict, platform)
        unique.setdefault((row.advisory, package.name, package.version, package.path), found)
    return order(list(unique.values()))


def counts(found: list[dict[str, Any]]) -> dict[str, int]:
    tally: dict[str, int] = defaultdict(int)
    for item in found:
        tally[item["severity"]] += 1
    return dict(tally)
