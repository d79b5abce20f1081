"""Are two benchmark outputs the same trial for trial? A check for refactors that must not
change a single proposal.

    python scripts/compare_runs.py BEFORE_DIR AFTER_DIR

Both folders are ``manifold-search benchmark --out`` folders; every run present in both
(``runs/<sampler>/seed-*.json``) is compared on its parameters, values, states and
regret, exactly (no tolerance). Prints one line per differing field and a summary;
exits 1 if anything differs or no run is shared.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

FIELDS = ("params", "values", "states", "regret")


def compare(before: Path, after: Path) -> tuple[int, list[str]]:
    """The number of runs compared, and a line per differing (run, field)."""
    differences, compared = [], 0
    for old in sorted(before.glob("runs/*/seed-*.json")):
        new = after / old.relative_to(before)
        if not new.exists():
            continue
        compared += 1
        a, b = json.loads(old.read_text()), json.loads(new.read_text())
        differences += [f"{old.relative_to(before)}: {f}" for f in FIELDS if a.get(f) != b.get(f)]
    return compared, differences


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    compared, differences = compare(Path(argv[0]), Path(argv[1]))
    for line in differences:
        print("differs:", line)
    print(f"{compared} runs compared on {', '.join(FIELDS)}: "
          f"{'identical' if compared and not differences else f'{len(differences)} differences'}")  # fmt: skip
    return 0 if compared and not differences else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
