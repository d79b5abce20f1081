"""Start-up time of the package and the CLI, each in a fresh process.

    python benchmarks/bench_import.py            # median of 5, table, docs/startup.md
    python benchmarks/bench_import.py --repeat 9 --no-write

Times ``python -c "import manifold_search"``, ``manifold-search --help`` and a
few heavier entry points (wall clock of the whole process, interpreter start-up
included, which is printed on its own line for reference).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES: list[tuple[str, list[str]]] = [
    ("python -c pass (interpreter alone)", ["-c", "pass"]),
    ('python -c "import manifold_search"', ["-c", "import manifold_search"]),
    ("manifold-search --help", ["-m", "manifold_search.cli", "--help"]),
    ("manifold-search run --help", ["-m", "manifold_search.cli", "run", "--help"]),
    ("manifold-search benchmark --help", ["-m", "manifold_search.cli", "benchmark", "--help"]),
    ("from manifold_search import ManifoldSampler", ["-c", "from manifold_search import ManifoldSampler"]),
]


def _time(args: list[str], repeat: int) -> list[float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, *args], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    rows = []
    for label, argv in CASES:
        times = _time(argv, args.repeat)
        rows.append((label, statistics.median(times), min(times), max(times)))
    lines = ["| command | median s | min s | max s |", "|---|---:|---:|---:|"]
    lines += [f"| `{label}` | {med:.3f} | {lo:.3f} | {hi:.3f} |" for label, med, lo, hi in rows]
    machine = (f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
               f"{platform.platform()}")  # fmt: skip
    print("\n".join(lines))
    if args.no_write:
        return
    doc = [
        "# Start-up time",
        "",
        "Wall time of a fresh process (interpreter start-up included), median of "
        f"{args.repeat} runs, measured {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} on "
        f"{machine}, by",
        "",
        "    python benchmarks/bench_import.py",
        "",
        *lines,
        "",
        "`import manifold_search` and `manifold-search --help` import neither Optuna nor "
        "torch: the package's public names are resolved on first use (PEP 562) and the CLI "
        "lists its commands from `manifold_search.registry.COMMANDS` without importing "
        "them. `from manifold_search import ManifoldSampler` pays for torch and PHATE, "
        "which the sampler's modules import at their top level.",
        "",
    ]
    path = ROOT / "docs" / "startup.md"
    path.write_text("\n".join(doc))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
