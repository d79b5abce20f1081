"""Share of proposals whose mixed kernel gave the network term weight (``kernel="mixed"``).

    python scripts/beta_share.py OUT_DIR [LABEL ...]

Reads the ``network_beta`` lists that ``manifold-search benchmark`` stores per run for
``ManifoldSampler(kernel="mixed")`` and prints, per sampler label, the proposals counted,
the share with beta > 0, and how often each beta was chosen.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path


def main() -> None:
    out, labels = Path(sys.argv[1]), sys.argv[2:]
    for folder in sorted(Path(out, "runs").iterdir()):
        if labels and folder.name not in labels:
            continue
        betas = []
        for path in sorted(folder.glob("seed-*.json")):
            betas += [b for b in json.loads(path.read_text()).get("network_beta") or [] if b is not None]
        if betas:
            counts = Counter(betas)
            share = sum(b > 0 for b in betas) / len(betas)
            print(f"{folder.name}: {len(betas)} proposals, beta > 0 in {share:.1%}; "
                  + ", ".join(f"{b:g}: {counts[b]}" for b in sorted(counts)))


if __name__ == "__main__":
    main()
