"""Growth curve: time per proposal, peak memory and restart cost against recorded trials.

Builds SQLite studies of 100 / 200 / 500 / 1,000 (and more, ``--sizes``) finished
trials on the MNIST-1D NAS table (real stored representations, recorded through
the artifact store exactly as a live study records them; filled by
``RandomSampler(seed=0)``, each size grown from a copy of the one below). Then,
for every size and sampler, a *new process* opens a fresh copy of the study and
runs ``--proposals`` more trials, measuring:

* restart: seconds from ``optuna.load_study`` to the end of the first proposal
  (the first ``sample_independent``), i.e. what a resumed study pays before it
  can train; Python imports are reported apart. For the manifold sampler twice:
  ``cold`` (no cache beside the study: the first run of a new version on an old
  study) and ``warm`` (a second process after the first wrote its cache, the
  normal resume);
* seconds per proposal: the median over the measured trials of the time spent
  inside the sampler (every Optuna hook, the after-trial annotation included);
  the first trial after the restart is left out (it is the restart figure);
* peak memory: the process's peak resident set size (``ru_maxrss``), and the
  resident size after imports, for scale.

Resumable (one JSON file per measurement under ``OUT/results``), meant to run
niced in the background; ``--doc`` rewrites the "Growth" section at the end of
docs/benchmarks.md.

    nice -n 10 python benchmarks/bench_growth.py --sizes 100,200,500,1000 --out runs/growth
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

STUDY = "growth"
SECTION = "## Growth: time per proposal, memory and restart against recorded trials"


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _db(out: Path, n: int) -> Path:
    return out / "studies" / f"n{n}.db"


def _copy_study(src: Path, dst: Path, cache: bool) -> None:
    """Copy a study database and its artifact folder (and its cache folder if asked)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", ".artifacts") + ((".artifacts.manifold-cache",) if cache else ()):
        s, d = Path(str(src) + suffix), Path(str(dst) + suffix)
        if d.is_dir():
            shutil.rmtree(d)
        elif d.exists():
            d.unlink()
        if s.is_dir():
            shutil.copytree(s, d)
        elif s.exists():
            shutil.copy2(s, d)


def build_studies(out: Path, sizes: list[int]) -> None:
    """Grow one study to each size (resumable), each size from a copy of the one below."""
    import optuna

    from manifold_search.benchmark.mnist1d_table import Mnist1DTable

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    table = Mnist1DTable.load()
    previous = None
    for n in sorted(sizes):
        db = _db(out, n)
        done_marker = Path(str(db) + ".done")
        if not done_marker.exists():
            db.parent.mkdir(parents=True, exist_ok=True)
            if not db.exists() and previous is not None:
                _copy_study(previous, db, cache=False)
            study = optuna.create_study(
                storage=f"sqlite:///{db}", study_name=STUDY, direction="maximize",
                sampler=optuna.samplers.RandomSampler(seed=n), load_if_exists=True,
            )  # fmt: skip
            have = len(study.get_trials(states=(optuna.trial.TrialState.COMPLETE,)))
            start = time.perf_counter()
            if have < n:
                study.optimize(table.objective(0), n_trials=n - have)
            print(f"study n={n}: {n - have} trials added in {time.perf_counter() - start:.0f} s",
                  flush=True)  # fmt: skip
            done_marker.touch()
        previous = db


def measure(db: Path, sampler: str, proposals: int, seed: int) -> dict:
    """In this (fresh) process: open the study, time the restart and the next proposals.
    ``sampler``: a :class:`SamplerSpec` as JSON."""
    t_import = time.perf_counter()
    import optuna
    import torch

    from manifold_search.benchmark.mnist1d_table import Mnist1DTable
    from manifold_search.benchmark.samplers import SamplerSpec
    from manifold_search.benchmark.timing import TimedSampler

    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # GPSampler warns per parameter
    table = Mnist1DTable.load()
    objective = table.objective(0)
    import_seconds = time.perf_counter() - t_import
    rss_after_imports = _rss_mb()

    class FirstProposal(TimedSampler):
        first_at: float | None = None

        def sample_independent(self, *args):
            value = super().sample_independent(*args)
            if self.first_at is None:
                self.first_at = time.perf_counter()
            return value

    spec = SamplerSpec.from_json(json.loads(sampler))
    timed = FirstProposal(spec.build(seed))
    start = time.perf_counter()
    study = optuna.load_study(study_name=STUDY, storage=f"sqlite:///{db}", sampler=timed)
    n_before = len(study.get_trials(states=(optuna.trial.TrialState.COMPLETE,)))
    load_seconds = time.perf_counter() - start  # Optuna's own part: every sampler pays it
    study.optimize(objective, n_trials=proposals)
    per_trial = [timed.seconds[t.number] for t in study.trials[n_before:]]
    return {
        "sampler": spec.label,
        "n": n_before,
        "restart_s": timed.first_at - start,
        "load_s": load_seconds,
        "import_s": import_seconds,
        "first_trial_s": per_trial[0],
        "per_proposal_s": per_trial[1:],
        "median_s": sorted(per_trial[1:])[len(per_trial[1:]) // 2],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_after_imports_mb": rss_after_imports,
    }


def _run_child(args: argparse.Namespace, db: Path, spec, result: Path) -> None:
    command = [sys.executable, __file__, "--measure", str(db), "--sampler", json.dumps(spec.to_json()),
               "--proposals", str(args.proposals), "--result", str(result)]  # fmt: skip
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads),
               OPENBLAS_NUM_THREADS=str(args.threads))  # fmt: skip
    subprocess.run(command, check=True, env=env)


def run_all(args: argparse.Namespace) -> list[dict]:
    out = Path(args.out)
    sizes = [int(s) for s in args.sizes.split(",")]
    from manifold_search.benchmark.samplers import parse_samplers

    specs = parse_samplers(args.samplers, args.sampler_kwargs)
    build_studies(out, sizes)
    results = []
    for n in sizes:
        for spec in specs:
            sampler = spec.label
            runs = [("cold", False), ("warm", True)] if sampler == "manifold" else [("", False)]
            for tag, warm in runs:
                result = out / "results" / f"{sampler}{'-' + tag if tag else ''}-n{n}.json"
                if not result.exists():
                    work = out / "work" / f"{sampler}-n{n}.db"
                    if warm:  # a fresh copy of the study beside the cache the cold run wrote
                        cache = Path(str(work) + ".artifacts.manifold-cache")
                        keep = out / "work" / "cache-keep"
                        if keep.exists():
                            shutil.rmtree(keep)
                        if cache.exists():
                            shutil.move(cache, keep)
                        _copy_study(_db(out, n), work, cache=False)
                        if keep.exists():
                            shutil.move(keep, cache)
                    else:
                        _copy_study(_db(out, n), work, cache=False)
                    result.parent.mkdir(parents=True, exist_ok=True)
                    _run_child(args, work, spec, result)
                data = json.loads(result.read_text())
                data["tag"] = tag
                results.append(data)
                print(f"n={n:5d} {sampler:9s} {tag:5s} median {data['median_s']:.3f} s/proposal, "
                      f"restart {data['restart_s']:.2f} s, peak {data['peak_rss_mb']:.0f} MB",
                      flush=True)  # fmt: skip
    return results


def table(results: list[dict], command: str) -> str:
    sizes = sorted({r["n"] for r in results})
    by = {(r["sampler"] + (f" ({r['tag']})" if r["tag"] else ""), r["n"]): r for r in results}
    labels = list(dict.fromkeys(r["sampler"] + (f" ({r['tag']})" if r["tag"] else "")
                                for r in results))  # fmt: skip
    head = "| sampler | " + " | ".join(f"n = {n}" for n in sizes) + " |"
    rule = "|---" * (len(sizes) + 1) + "|"

    def row(label: str, fmt) -> str:
        cells = [fmt(by[label, n]) if (label, n) in by else "-" for n in sizes]
        return f"| {label} | " + " | ".join(cells) + " |"

    lines = [
        SECTION, "",
        f"`{command}`; machine: {os.cpu_count()} cores (shared with other jobs), one thread "
        "per process. Study: MNIST-1D NAS table, SQLite + artifact folder, filled by "
        "RandomSampler; each figure from a new process.", "",
        "Median seconds inside the sampler per proposal (trials 2.. after the restart):", "",
        head, rule, *[row(label, lambda r: f"{r['median_s']:.3f}") for label in labels], "",
        "Restart: seconds from `optuna.load_study` to the end of the first proposal "
        "(imports excluded):", "",
        head, rule, *[row(label, lambda r: f"{r['restart_s']:.2f}") for label in labels], "",
        "Peak resident memory of the process, MB (after imports and the table: "
        f"{min(r['rss_after_imports_mb'] for r in results):.0f}-"
        f"{max(r['rss_after_imports_mb'] for r in results):.0f} MB):", "",
        head, rule, *[row(label, lambda r: f"{r['peak_rss_mb']:.0f}") for label in labels], "",
    ]  # fmt: skip
    return "\n".join(lines)


def write_doc(doc: Path, text: str) -> None:
    """Replace (or append) the Growth section, which is the last section of the page."""
    body = doc.read_text() if doc.exists() else ""
    if SECTION in body:
        body = body[: body.index(SECTION)].rstrip("\n") + "\n"
    doc.write_text(body.rstrip("\n") + "\n\n" + text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,200,500,1000")
    parser.add_argument("--samplers", default="manifold,tpe,gp")
    parser.add_argument("--sampler-kwargs", action="append", default=[], metavar="LABEL:KWARGS",
                        help="keyword arguments of one sampler, as for manifold-search benchmark, "
                             "e.g. --samplers ard=manifold --sampler-kwargs ard:surrogate=ard")  # fmt: skip
    parser.add_argument("--proposals", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="runs/growth")
    parser.add_argument("--doc", default=None, help="write the Growth section into this page")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--sampler", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        data = measure(Path(args.measure), args.sampler, args.proposals, seed=0)
        Path(args.result).write_text(json.dumps(data))
        return
    results = run_all(args)
    command = "python benchmarks/bench_growth.py " + " ".join(
        f"--{k} {v}" for k, v in (("sizes", args.sizes), ("samplers", args.samplers),
                                  ("proposals", args.proposals)))  # fmt: skip
    command += "".join(f" --sampler-kwargs {k}" for k in args.sampler_kwargs)
    text = table(results, command)
    print(text)
    Path(args.out, "growth.md").write_text(text)
    if args.doc:
        write_doc(Path(args.doc), text)


if __name__ == "__main__":
    main()
