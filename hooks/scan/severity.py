"""Severity in ECR's terms (CRITICAL, HIGH, MEDIUM, LOW, INFORMATIONAL, UNDEFINED): from the
CVSS vector when the advisory has one (its base score, banded as CVSS defines), else from the
database's own word for it, else UNDEFINED."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED")  # most severe first
# The databases' own words (GitHub's MODERATE, Debian's unimportant, Ubuntu's negligible...).
_WORDS = {
    "CRITICAL": "CRITICAL",
    "HIGH": "HIGH",
    "IMPORTANT": "HIGH",
    "MODERATE": "MEDIUM",
    "MEDIUM": "MEDIUM",
    "LOW": "LOW",
    "NEGLIGIBLE": "INFORMATIONAL",
    "UNIMPORTANT": "INFORMATIONAL",
}
_PREFERENCE = ("CVSS_V3", "CVSS_V4", "CVSS_V2")


@dataclass(frozen=True, slots=True)
class Rating:
    severity: str
    score: float | None = None
    vector: str | None = None
    version: str | None = None  # CVSS version of the vector: 2.0, 3.1, 4.0...


def band(score: float, version: str) -> str:
    if version.startswith("2"):
        return "HIGH" if score >= 7.0 else "MEDIUM" if score >= 4.0 else "LOW"
    if score >= 9.0:
        return "CRITICAL"
    if score >= 7.0:
        return "HIGH"
    if score >= 4.0:
        return "MEDIUM"
    return "LOW" if score > 0 else "INFORMATIONAL"


def _cvss(kind: str, vector: str) -> tuple[float, str] | None:
    from cvss import CVSS2, CVSS3, CVSS4
    from cvss.exceptions import CVSSError

    try:
        if kind == "CVSS_V3":
            v3 = CVSS3(vector)
            return float(v3.base_score), "3.1" if vector.startswith("CVSS:3.1") else "3.0"
        if kind == "CVSS_V4":
            return float(CVSS4(vector).base_score), "4.0"
        return float(CVSS2(vector).base_score), "2.0"
    except (CVSSError, ValueError, KeyError, IndexError):
        return None


def _word(record: dict[str, Any]) -> str | None:
    candidates = [record.get("database_specific")]
    for item in record.get("affected") or []:
        if isinstance(item, dict):
            candidates += [item.get("ecosystem_specific"), item.get("database_specific")]
    for candidate in candidates:
        value = candidate.get("severity") if isinstance(candidate, dict) else None
        if isinstance(value, str) and value.upper() in _WORDS:
            return _WORDS[value.upper()]
    return None


def rate(record: dict[str, Any]) -> Rating:
    """The rating of an OSV record."""
    scores = {s.get("type"): s.get("score") for s in record.get("severity") or [] if isinstance(s, dict)}
    for kind in _PREFERENCE:
        vector = scores.get(kind)
        if isinstance(vector, str) and (scored := _cvss(kind, vector)) is not None:
            score, version = scored
            return Rating(band(score, version), score, vector, version)
    word = _word(record)
    return Rating(word) if word else Rating("UNDEFINED")


def at_least(severity: str, minimum: str) -> bool:
    """Whether `severity` is `minimum` or worse (UNDEFINED is below everything)."""
    return SEVERITIES.index(severity) <= SEVERITIES.index(minimum)
