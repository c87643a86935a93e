"""The results table: one row per measured quantity, median over the repetitions with the
min-max spread, a ratio where >1 always means Cais did better, and what each server spent."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

SERVERS = ("Distribution", "Cais")


@dataclass
class Sample:
    rate: float
    cpu_per_unit: float
    peak_rss_mib: float  # the largest process of the server (per worker for Cais)
    client_cpu_pct: float  # of one core, over the timed section
    p50_ms: float | None = None
    p99_ms: float | None = None


def spread(values: list[float], digits: int = 0) -> str:
    if not values:
        return "-"
    fmt = f"{{:,.{digits}f}}"
    median = fmt.format(statistics.median(values))
    if len(values) == 1:
        return median
    return f"{median} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def _digits(values: list[float]) -> int:
    top = max(values, default=0)
    return 0 if top >= 100 else 1 if top >= 10 else 2


def _ratio(dist: list[float], cais: list[float], higher_is_better: bool) -> str:
    if not dist or not cais:
        return "-"
    d, c = statistics.median(dist), statistics.median(cais)
    if min(d, c) <= 0:
        return "-"
    return f"{(c / d if higher_is_better else d / c):.2f}x"


def _field(samples: dict[str, list[Sample]], attr: str) -> list[list[float]]:
    """[Distribution's values, Cais's values] of one attribute."""
    return [[v for s in samples.get(n, []) if (v := getattr(s, attr)) is not None] for n in SERVERS]


def table(
    cases: list[tuple[str, str, str, str]],
    results: dict[str, dict[str, list[Sample]]],
    limits: dict[str, float],
) -> str:
    """cases: (name, rate unit, CPU unit, limit keys) in order."""
    head = (
        "| workload | unit | Distribution | Cais | Cais advantage | machine limit "
        "| server CPU Dist | server CPU Cais | peak RSS Dist (MiB) | peak RSS Cais, per worker (MiB) "
        "| client CPU % (Dist / Cais) |"
    )
    lines = [head, "|" + "---|" * 11]
    for name, unit, cpu_unit, limit_keys in cases:
        samples = results.get(name, {})
        rates = _field(samples, "rate")
        limit = ", ".join(f"{key} {limits[key]:,.0f} MiB/s" for key in limit_keys.split(", ") if key in limits)
        cpu = _field(samples, "cpu_per_unit")
        rss = _field(samples, "peak_rss_mib")
        client = _field(samples, "client_cpu_pct")
        lines.append(
            f"| {name} | {unit} | {spread(rates[0], _digits(rates[0]))} | {spread(rates[1], _digits(rates[1]))} "
            f"| {_ratio(rates[0], rates[1], True)} | {limit or '-'} "
            f"| {spread(cpu[0], _digits(cpu[0]))} {cpu_unit} | {spread(cpu[1], _digits(cpu[1]))} {cpu_unit} "
            f"| {spread(rss[0])} | {spread(rss[1])} | {spread(client[0])} / {spread(client[1])} |"
        )
        for label, attr in (("p50", "p50_ms"), ("p99", "p99_ms")):
            latency = _field(samples, attr)
            if latency[0] or latency[1]:
                lines.append(
                    f"| {name} {label} | ms | {spread(latency[0], 1)} | {spread(latency[1], 1)} "
                    f"| {_ratio(latency[0], latency[1], False)} | | | | | | |"
                )
    return "\n".join(lines)


def peak_memory(results: dict[str, dict[str, list[Sample]]]) -> str:
    """The largest peak over the whole run: what each server needs, whatever it is asked."""
    peaks = [
        max((v for samples in results.values() for v in _field(samples, "peak_rss_mib")[i]), default=0) for i in (0, 1)
    ]
    ratio = f"{peaks[1] / peaks[0]:.2f}x Distribution's" if peaks[0] else "-"
    return (
        f"Peak RSS over the whole run: Distribution {peaks[0]:.0f} MiB, Cais {peaks[1]:.0f} MiB per worker ({ratio})."
    )


def limits_lines(limits: dict[str, float]) -> str:
    names = {"sha256": "sha256, one core (hashlib)", "disk": "disk write + fsync", "loopback": "loopback TCP"}
    return "\n".join(f"- {names[key]}: {value:,.0f} MiB/s" for key, value in limits.items())
