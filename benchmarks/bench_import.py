"""Start-up time of the package and the CLI, each in a fresh process.

    python benchmarks/bench_import.py            # median of 5, table, docs/startup.md
    python benchmarks/bench_import.py --repeat 9 --no-write
    git archive ba93495 | tar -x -C /tmp/before  # an older checkout, to compare with
    python benchmarks/bench_import.py --before /tmp/before

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


def _time(args: list[str], repeat: int, root: Path) -> list[float]:
    env = {**os.environ, "PYTHONPATH": str(root) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, *args], cwd=root, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        out.append(time.perf_counter() - start if done.returncode == 0 else float("nan"))
    return out


def _cell(times: list[float]) -> str:
    return "-" if any(t != t for t in times) else f"{statistics.median(times):.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--before", type=Path, metavar="DIR",
                        help="an older checkout to time beside this one")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    rows = []
    for label, argv in CASES:
        before = _cell(_time(argv, args.repeat, args.before)) if args.before else None
        times = _time(argv, args.repeat, ROOT)
        rows.append((label, before, _cell(times), min(times), max(times)))
    if args.before:
        lines = ["| command | before: median s | now: median s | now: min s | now: max s |",
                 "|---|---:|---:|---:|---:|"]
        lines += [f"| `{lab}` | {bef} | {med} | {lo:.3f} | {hi:.3f} |" for lab, bef, med, lo, hi in rows]
    else:
        lines = ["| command | median s | min s | max s |", "|---|---:|---:|---:|"]
        lines += [f"| `{lab}` | {med} | {lo:.3f} | {hi:.3f} |" for lab, _, med, lo, hi in rows]
    machine = (f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
               f"{platform.platform()}; load average {load:.1f} when it started")  # fmt: skip
    print("\n".join(lines))
    if args.no_write:
        return
    command = "python benchmarks/bench_import.py" + (f" --before {args.before}" if args.before else "")
    doc = [
        "# Start-up time",
        "",
        "Wall time of a fresh process (interpreter start-up included), median of "
        f"{args.repeat} runs, measured {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} on "
        f"{machine}, by",
        "",
        f"    {command}",
        "",
        *lines,
        "",
        "`import manifold_search` and `manifold-search --help` import neither Optuna nor "
        "torch: the package's public names are resolved on first use (PEP 562) and the CLI "
        "lists its commands from `manifold_search.registry.COMMANDS`, importing only the "
        "command being run. `from manifold_search import ManifoldSampler` still pays for "
        "torch, boto3 (through `optuna.artifacts`) and SciPy, which the sampler's modules "
        "import at their top level. A shared machine's load inflates every figure alike; "
        "compare the columns of one table, not tables of different days.",
        "",
    ]
    path = ROOT / "docs" / "startup.md"
    path.write_text("\n".join(doc))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
