"""The scan gate of deploy rules, a pure function (hooks/deploy/gate.py)."""

from __future__ import annotations

from hooks.deploy.gate import judge


def finding(name: str, severity: str, advisory: str | None = None) -> dict[str, str]:
    return {"name": name, "id": advisory or name, "severity": severity, "package": "p", "version": "1"}


FINDINGS = [
    finding("CVE-1", "CRITICAL", "GHSA-aaaa"),
    finding("CVE-2", "HIGH"),
    finding("CVE-3", "MEDIUM"),
    finding("CVE-4", "UNDEFINED"),
]
COUNTS = {"CRITICAL": 1, "HIGH": 1, "MEDIUM": 1, "UNDEFINED": 1}


def blocked(max_severity: str, ignore: list[str] | None = None) -> list[str]:
    decision = judge("COMPLETE", None, COUNTS, FINDINGS, max_severity, ignore or [])
    assert decision.passed == (not decision.blocking)
    return [f["name"] for f in decision.blocking]


def test_findings_above_the_gate_block_unless_ignored_by_name_or_id() -> None:
    assert blocked("CRITICAL") == []
    assert blocked("HIGH") == ["CVE-1"]
    assert blocked("MEDIUM") == ["CVE-1", "CVE-2"]
    assert blocked("LOW") == ["CVE-1", "CVE-2", "CVE-3"]
    assert blocked("UNDEFINED") == ["CVE-1", "CVE-2", "CVE-3"], "UNDEFINED is the least severe"
    assert blocked("MEDIUM", ["GHSA-aaaa"]) == ["CVE-2"]
    assert blocked("MEDIUM", ["CVE-1", "CVE-2"]) == []
    decision = judge("COMPLETE", None, COUNTS, FINDINGS, "MEDIUM", [])
    assert (
        decision.reason
        == "CRITICAL CVE-1 in p 1 and 1 more above the gate's MEDIUM (1 CRITICAL, 1 HIGH, 1 MEDIUM, 1 UNDEFINED)"
    )
    assert judge("COMPLETE", None, {}, [], "HIGH", []).reason == "passed: nothing above HIGH (no findings)"


def test_a_scan_that_did_not_complete_blocks() -> None:
    decision = judge("UNSUPPORTED_IMAGE", "not a container image", {}, [], "CRITICAL", [])
    assert not decision.passed and decision.reason == "scan UNSUPPORTED_IMAGE: not a container image"
