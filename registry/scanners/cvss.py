"""CVSS base scores from vector strings (v3.0/v3.1 and v2), and Harbor's severity names.

OSV records carry vectors, not scores; the scanner computes the base score with the
specification's formulas (CVSS v3.1 §7.1, CVSS v2 §3.2.1).
"""

from __future__ import annotations

import math

SEVERITIES = ("Unknown", "Negligible", "Low", "Medium", "High", "Critical")
_RANK = {name: index for index, name in enumerate(SEVERITIES)}

_V3 = {
    "AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
    "AC": {"L": 0.77, "H": 0.44},
    "UI": {"N": 0.85, "R": 0.62},
    "C": {"H": 0.56, "L": 0.22, "N": 0.0},
    "I": {"H": 0.56, "L": 0.22, "N": 0.0},
    "A": {"H": 0.56, "L": 0.22, "N": 0.0},
}
_V3_PR = {"U": {"N": 0.85, "L": 0.62, "H": 0.27}, "C": {"N": 0.85, "L": 0.68, "H": 0.5}}

_V2 = {
    "AV": {"L": 0.395, "A": 0.646, "N": 1.0},
    "AC": {"H": 0.35, "M": 0.61, "L": 0.71},
    "Au": {"M": 0.45, "S": 0.56, "N": 0.704},
    "C": {"N": 0.0, "P": 0.275, "C": 0.660},
    "I": {"N": 0.0, "P": 0.275, "C": 0.660},
    "A": {"N": 0.0, "P": 0.275, "C": 0.660},
}


def _roundup(value: float) -> float:
    """CVSS v3.1 Appendix A: the smallest number with one decimal >= value, free of
    floating-point surprises."""
    scaled = round(value * 100000)
    if scaled % 10000 == 0:
        return scaled / 100000.0
    return (math.floor(scaled / 10000) + 1) / 10.0


def _metrics(vector: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for part in vector.split("/"):
        key, sep, value = part.partition(":")
        if sep:
            found[key] = value
    return found


def v3_base_score(vector: str) -> float | None:
    m = _metrics(vector)
    try:
        scope = m["S"]
        iss = 1 - (1 - _V3["C"][m["C"]]) * (1 - _V3["I"][m["I"]]) * (1 - _V3["A"][m["A"]])
        if scope == "U":
            impact = 6.42 * iss
        elif scope == "C":
            impact = 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15
        else:
            return None
        exploitability = (
            8.22
            * _V3["AV"][m["AV"]]
            * _V3["AC"][m["AC"]]
            * _V3_PR[scope][m["PR"]]
            * _V3["UI"][m["UI"]]
        )
    except KeyError:
        return None
    if impact <= 0:
        return 0.0
    if scope == "U":
        return _roundup(min(impact + exploitability, 10))
    return _roundup(min(1.08 * (impact + exploitability), 10))


def v2_base_score(vector: str) -> float | None:
    m = _metrics(vector.removeprefix("(").removesuffix(")"))
    try:
        impact = 10.41 * (
            1 - (1 - _V2["C"][m["C"]]) * (1 - _V2["I"][m["I"]]) * (1 - _V2["A"][m["A"]])
        )
        exploitability = 20 * _V2["AV"][m["AV"]] * _V2["AC"][m["AC"]] * _V2["Au"][m["Au"]]
    except KeyError:
        return None
    f_impact = 0.0 if impact == 0 else 1.176
    return round((0.6 * impact + 0.4 * exploitability - 1.5) * f_impact, 1)


def severity_of_score(score: float) -> str:
    """CVSS v3's qualitative rating, in Harbor's names (None is Negligible)."""
    if score >= 9.0:
        return "Critical"
    if score >= 7.0:
        return "High"
    if score >= 4.0:
        return "Medium"
    if score > 0.0:
        return "Low"
    return "Negligible"


def severity_of_name(name: str) -> str:
    """A database's own rating (GHSA's ``HIGH``, Debian's ``low``, Ubuntu's ``negligible``)."""
    text = name.strip().lower()
    return {
        "critical": "Critical",
        "high": "High",
        "important": "High",
        "medium": "Medium",
        "moderate": "Medium",
        "low": "Low",
        "negligible": "Negligible",
        "none": "Negligible",
        "unimportant": "Negligible",
    }.get(text, "Unknown")


def rank(severity: str) -> int:
    """Order of Harbor's severities, Unknown lowest."""
    return _RANK.get(severity.capitalize(), 0)


def worst(severities: list[str]) -> str:
    return max(severities, key=rank, default="None")
