"""Counting the certification rules on a corpus of certified connectors (O1).

The connectors in a corpus's ``certified-connectors`` (and ``independent-publisher-connectors``)
were certified by the incumbent, so an error-level rule that fails many of them is misread
or has changed since. :func:`count` runs every rule over the files given to it and returns,
per rule, the connectors it fails; the calibration test and
``benchmarks/certification_counts.py`` share it. Pure: the caller reads the files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from connectorhub.connectors.validation.certification import certification_findings
from connectorhub.connectors.validation.certification_rules import RULES
from connectorhub.connectors.validation.findings import ERROR
from connectorhub.connectors.validation.parsing import parse_json_document


@dataclass
class Counts:
    """What a corpus says about the rules: ``connectors`` folders, ``parsed`` the ones whose
    two files are JSON objects (the rules judge only those), ``failing[code]`` the names a
    rule fails and ``error_free`` the names that pass every error-level rule."""

    connectors: int = 0
    parsed: int = 0
    unparsed: list[str] = field(default_factory=list)
    failing: dict[str, list[str]] = field(default_factory=lambda: {code: [] for code in RULES})
    error_free: list[str] = field(default_factory=list)

    def passing(self, code: str) -> int:
        return self.parsed - len(self.failing[code])

    @property
    def error_free_share(self) -> float:
        return len(self.error_free) / self.parsed if self.parsed else 1.0


def count(connectors: Iterable[tuple[str, bytes, bytes | None, bool]]) -> Counts:
    """``connectors``: (name, apiDefinition bytes, apiProperties bytes or None, independent publisher)."""
    counts = Counts()
    for name, definition_bytes, properties_bytes, independent in connectors:
        counts.connectors += 1
        definition, problems = parse_json_document(definition_bytes, "apiDefinition.swagger.json")
        properties, more = (None, []) if properties_bytes is None else parse_json_document(properties_bytes, "apiProperties.json")
        if problems or more or not isinstance(definition, dict):
            counts.unparsed.append(name)
            continue
        counts.parsed += 1
        findings = certification_findings(
            definition, properties, definition_size=len(definition_bytes), independent_publisher=independent
        )
        for code in sorted({f.code for f in findings}):
            counts.failing[code].append(name)
        if not any(f.level == ERROR for f in findings):
            counts.error_free.append(name)
    return counts
