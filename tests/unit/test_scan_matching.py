"""Version ordering and OSV ranges: Debian's ordering checked against dpkg itself, the range
events of the OSV schema, severities, and records that are refused."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hooks.scan.osv import OsvError, parse
from hooks.scan.severity import rate
from hooks.scan.versions import evaluate
from hooks.scan.versions import parse as parse_version

# Debian versions: [epoch:]upstream[-revision]. Upstream starts with a digit; `~` sorts before
# anything, even the end of the string; letters sort before other characters.
_UPSTREAM = st.from_regex(r"\A[0-9][0-9A-Za-z.+~]{0,8}\Z")
_REVISION = st.from_regex(r"\A[0-9A-Za-z.+~]{1,6}\Z")
DEBIAN = st.builds(
    lambda epoch, upstream, revision: (
        (f"{epoch}:" if epoch is not None else "") + upstream + (f"-{revision}" if revision else "")
    ),
    st.one_of(st.none(), st.integers(0, 3)),
    _UPSTREAM,
    st.one_of(st.none(), _REVISION),
)
_NEAR = st.sampled_from(["1.0", "1.0~rc1", "1.0+deb12u1", "1:1.0", "1.0-1", "1.0-1~bpo1", "1.0a", "1.0.0", "1.00"])


def dpkg_says(a: str, relation: str, b: str) -> bool:
    return subprocess.run(["dpkg", "--compare-versions", a, relation, b], check=False).returncode == 0


@settings(max_examples=100, deadline=None)
@given(st.one_of(DEBIAN, _NEAR), st.one_of(DEBIAN, _NEAR))
def test_debian_ordering_agrees_with_dpkg(a: str, b: str) -> None:
    left, right = parse_version("Debian", a), parse_version("Debian", b)
    assert left is not None and right is not None
    lower = dpkg_says(a, "lt", b)
    assert (left < right) == lower, (a, b)
    if not lower:  # univers' == compares the text (1.0 != 1.00): ranges compare with < only
        assert (not right < left) == dpkg_says(a, "eq", b), (a, b)


def advisory(ecosystem: str, name: str, *ranges: tuple[str, list[tuple[str, str]]], **extra: Any) -> dict[str, Any]:
    affected = {
        "package": {"ecosystem": ecosystem, "name": name},
        "ranges": [{"type": kind, "events": [{k: v} for k, v in events]} for kind, events in ranges],
    }
    return {
        "id": "TEST-1",
        "modified": "2024-01-01T00:00:00Z",
        "affected": [affected | extra.pop("entry", {})],
        **extra,
    }


@pytest.mark.parametrize(
    ("installed", "affected", "fixed_in"),
    [
        ("0.9", True, "1.0"),
        ("1.0", False, None),
        ("1.4", False, None),
        ("1.5", True, "2.0"),
        ("2.1", False, None),
        ("3.0", True, None),  # last_affected 3.0
        ("3.1", False, None),
        ("5.0", False, None),  # at the limit
    ],
)
def test_range_events(installed: str, affected: bool, fixed_in: str | None) -> None:
    events = [("introduced", "0"), ("fixed", "1.0"), ("introduced", "1.5"), ("fixed", "2.0")]
    events += [("introduced", "2.5"), ("last_affected", "3.0"), ("introduced", "4.0"), ("limit", "5.0")]
    (entry,) = parse(advisory("PyPI", "pkg", ("ECOSYSTEM", events))).affected
    verdict = evaluate(installed, entry)
    assert (verdict.affected, verdict.fixed_in) == (affected, fixed_in)


@pytest.mark.parametrize(
    ("ecosystem", "installed", "fixed", "affected"),
    [
        ("Debian:12", "1:1.2.13.dfsg-1", "1.3.0-1", False),  # the epoch wins
        ("Debian:12", "3.0.11-1~deb12u2", "3.0.11-1", True),  # ~ sorts first
        ("Alpine:v3.19", "3.1.4-r1", "3.1.4-r3", True),
        ("Alpine:v3.19", "1.2.4_git20230717-r4", "1.2.4-r0", False),  # _git comes after the release
        ("Alpine:v3.19", "1.2.4_git20230717-r4", "1.2.4_git20230717-r5", True),
        ("Alpine:v3.19", "1.2.4_rc1-r0", "1.2.4-r0", True),  # _rc before it
        ("PyPI", "2.0.0rc1", "2.0.0", True),
        ("npm", "1.2.6-beta.1", "1.2.6", True),
        ("Go", "v0.3.7", "0.3.8", True),
        ("Go", "go1.20.2", "1.20.2", False),
    ],
)
def test_each_ecosystem_orders_its_own_way(ecosystem: str, installed: str, fixed: str, affected: bool) -> None:
    kind = "SEMVER" if ecosystem == "Go" else "ECOSYSTEM"
    (entry,) = parse(advisory(ecosystem, "p", (kind, [("introduced", "0"), ("fixed", fixed)]))).affected
    assert evaluate(installed, entry).affected is affected


def test_explicit_versions_and_unparseable_versions() -> None:
    record = advisory("npm", "p", ("ECOSYSTEM", [("introduced", "0"), ("fixed", "not-a-version")]))
    record["affected"][0]["versions"] = ["0.0.1-weird"]
    (entry,) = parse(record).affected
    assert evaluate("0.0.1-weird", entry).affected
    assert not evaluate("1.0.0", entry).affected  # a range it cannot evaluate decides nothing


def test_pypi_names_are_normalized() -> None:
    (entry,) = parse(advisory("PyPI", "Zope.Interface_Extra", ("ECOSYSTEM", [("introduced", "0")]))).affected
    assert entry.name == "zope-interface-extra"


@pytest.mark.parametrize(
    ("severity", "database", "expected"),
    [
        ([{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}], None, ("CRITICAL", 9.8)),
        ([{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L"}], "HIGH", ("MEDIUM", 5.3)),
        ([{"type": "CVSS_V2", "score": "AV:N/AC:L/Au:N/C:P/I:P/A:P"}], None, ("HIGH", 7.5)),
        ([{"type": "CVSS_V3", "score": "garbage"}], "MODERATE", ("MEDIUM", None)),
        (None, "unimportant", ("INFORMATIONAL", None)),
        (None, None, ("UNDEFINED", None)),
    ],
)
def test_severity(
    severity: list[dict[str, str]] | None, database: str | None, expected: tuple[str, float | None]
) -> None:
    record: dict[str, Any] = {"severity": severity} if severity else {}
    if database:
        record["database_specific"] = {"severity": database}
    rating = rate(record)
    assert (rating.severity, rating.score) == expected


@pytest.mark.parametrize(
    "record",
    [
        [],
        {"modified": "x"},
        {"id": "X", "modified": "x", "affected": [{"package": {"name": "p"}}]},
        {
            "id": "X",
            "modified": "x",
            "affected": [{"package": {"ecosystem": "npm", "name": "p"}, "ranges": [{"type": "X"}]}],
        },
        {
            "id": "X",
            "modified": "x",
            "affected": [
                {
                    "package": {"ecosystem": "npm", "name": "p"},
                    "ranges": [{"type": "SEMVER", "events": [{"bogus": "1"}]}],
                }
            ],
        },
        {"id": "X", "modified": "x", "aliases": "CVE-1"},
    ],
)
def test_records_that_are_not_osv_are_refused(record: Any) -> None:
    with pytest.raises(OsvError):
        parse(record)


def test_withdrawn_and_git_only() -> None:
    record = advisory("npm", "p", ("GIT", [("introduced", "abc")]), withdrawn="2024-01-01T00:00:00Z")
    parsed = parse(record)
    assert parsed.withdrawn and parsed.affected[0].ranges == ()
