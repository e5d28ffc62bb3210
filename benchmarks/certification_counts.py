#!/usr/bin/env python
"""Certification rules counted on a connector corpus (O1; docs/certification.md).

For each group of certified connectors (``certified-connectors`` and
``independent-publisher-connectors``) it runs every certification rule and prints, per
rule, its severity and how many connectors pass it, then the share of connectors that pass
every error-level rule (the calibration target is 95 % of ``certified-connectors``).

    python benchmarks/certification_counts.py                        # tests/data/corpus
    python benchmarks/certification_counts.py --corpus ../shared/corpus
    python benchmarks/certification_counts.py --corpus DIR --failing TitleTooLong   # who fails
    python benchmarks/certification_counts.py --markdown             # the table of docs/certification.md

Exit status 0, or 1 when ``certified-connectors`` misses the 95 % target (so CI may call it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from connectorhub.connectors.validation import calibration
from connectorhub.connectors.validation.certification_rules import RULES

ROOT = Path(__file__).resolve().parent.parent
GROUPS = ("certified-connectors", "independent-publisher-connectors")
TARGET = 0.95
# Brand colour rules judge one kind of publisher each: "n/a" for the other group.
ONLY_INDEPENDENT = {"IndependentPublisherBrandColor"}
ONLY_VERIFIED = {"BrandColorReserved"}


def read_group(connectors: Path, group: str) -> list[tuple[str, bytes, bytes | None, bool]]:
    out = []
    for definition in sorted((connectors / group).glob("*/apiDefinition.swagger.json")):
        properties = definition.parent / "apiProperties.json"
        out.append((
            definition.parent.name,
            definition.read_bytes(),
            properties.read_bytes() if properties.exists() else None,
            group == "independent-publisher-connectors",
        ))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "tests" / "data" / "corpus",
                        help="a corpus folder with connectors/<group>/<name>/ (default: the repository's sample)")
    parser.add_argument("--failing", metavar="CODE", help="list the connectors that fail this rule")
    parser.add_argument("--markdown", action="store_true", help="print the rule table as Markdown")
    args = parser.parse_args()
    connectors = args.corpus / "connectors"
    if not connectors.is_dir():
        print(f"no connectors/ folder in {args.corpus}", file=sys.stderr)
        return 2
    results = {group: calibration.count(read_group(connectors, group)) for group in GROUPS}
    if args.failing:
        for group, counts in results.items():
            print(f"{group}: " + (", ".join(counts.failing.get(args.failing, [])) or "none"))
        return 0
    certified, independent = results[GROUPS[0]], results[GROUPS[1]]
    header = (f"certified: {certified.parsed} of {certified.connectors} parse "
              f"(not: {', '.join(certified.unparsed) or 'none'}); "
              f"independent publisher: {independent.parsed} of {independent.connectors} parse "
              f"(not: {', '.join(independent.unparsed) or 'none'})")
    print(header + "\n")
    if args.markdown:
        print("| code | severity | file | what it checks | certified pass | independent pass |")
        print("|---|---|---|---|---|---|")
    for code, rule in RULES.items():
        cells = (code, rule.severity, rule.file or "both", rule.checks,
                 "n/a" if code in ONLY_INDEPENDENT else f"{certified.passing(code)}/{certified.parsed}",
                 "n/a" if code in ONLY_VERIFIED else f"{independent.passing(code)}/{independent.parsed}")
        if args.markdown:
            print("| `" + cells[0] + "` | " + " | ".join(cells[1:]) + " |")
        else:
            print(f"{code:36} {rule.severity:8} certified {cells[4]:>7}  independent {cells[5]:>7}")
    print()
    for group, counts in results.items():
        share = counts.error_free_share
        print(f"{group}: {len(counts.error_free)}/{counts.parsed} ({share:.1%}) pass every error-level rule; "
              f"failing one: {', '.join(sorted(_erring(counts))) or 'none'}")
    return 0 if certified.error_free_share >= TARGET else 1


def _erring(counts: calibration.Counts) -> set[str]:
    return {name for code, names in counts.failing.items() if RULES[code].severity == "error" for name in names}


if __name__ == "__main__":
    sys.exit(main())
