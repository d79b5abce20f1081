"""The study runner end to end through the CLI, on a tiny real budget (digits, 1 epoch).

Covers: a run, its resume to a larger target, the report and the interactive page,
a random-search baseline beside the study, a changed space refused on resume, a
run interrupted with Ctrl-C and a run killed mid-trial (its RUNNING trial marked
FAIL on resume), parallel workers, and the live benchmark problem.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from manifold_search._attrs import ERROR
from manifold_search._attrs import RUN as RUN_ATTR
from manifold_search._attrs import WORKER as WORKER_ATTR
from manifold_search.cli import main

TESTS = Path(__file__).parent
CONFIG = """
[study]
name = "tiny"
n_trials = {n_trials}
seed = 0
output_dir = "{out}"

[space]
name = "{space}"
epochs = {epochs}
probe_size = 32

[sampler]
name = "manifold"
n_startup_trials = 2
"""


def write_config(tmp_path: Path, n_trials: int = 4, space: str = "digits", epochs: int = 1,
                 name: str = "tiny.toml") -> Path:  # fmt: skip
    path = tmp_path / name
    path.write_text(CONFIG.format(n_trials=n_trials, out=tmp_path / "out", space=space, epochs=epochs))
    return path


def load(tmp_path: Path, name: str = "tiny") -> optuna.Study:
    return optuna.load_study(study_name=name, storage=f"sqlite:///{tmp_path / 'out' / 'study.db'}")


def states(study: optuna.Study) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in study.trials:
        out[t.state.name] = out.get(t.state.name, 0) + 1
    return out


def run_cli(capsys, argv: list[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_run_resume_report_explore(tmp_path, capsys):
    config = write_config(tmp_path)
    out = tmp_path / "out"
    code, stdout, stderr = run_cli(capsys, ["run", str(config), "--trials", "2", "--no-progress"])
    assert code == 0, stderr
    study = load(tmp_path)
    assert states(study) == {"COMPLETE": 2}
    assert (out / "study.db.artifacts").is_dir() and (out / "run.json").is_file()
    meta = study.user_attrs[RUN_ATTR]
    assert meta["space"] == {"name": "digits", "options": {"epochs": 1, "probe_size": 32}}
    assert meta["sampler"]["name"] == "manifold" and meta["n_trials"] == 2
    assert "2/2 finished trials" in stdout and "report:" in stdout

    # resume to 4: two more trials, none repeated
    code, stdout, stderr = run_cli(capsys, ["run", str(config), "--no-progress"])
    assert code == 0, stderr
    assert "2 finished, running 2 more" in stderr
    study = load(tmp_path)
    assert states(study) == {"COMPLETE": 4}
    assert [t.number for t in study.trials] == [0, 1, 2, 3]
    assert len({json.dumps(t.params, sort_keys=True) for t in study.trials}) == 4
    for t in study.trials:
        assert {"test_accuracy", "n_params", "train_seconds", WORKER_ATTR} <= set(t.user_attrs)

    # target reached: nothing new, report rewritten
    code, stdout, stderr = run_cli(capsys, ["run", str(config), "--no-progress"])
    assert code == 0 and "target reached" in stderr and "target already reached" in stdout
    span = re.search(r"last end in (\S+)", stdout).group(1)  # the study's real time, not 0.0s
    assert span not in ("-", "0.0s") and not span.startswith("0.0")
    assert len(load(tmp_path).trials) == 4

    report = out / "report"
    for name in ("report.md", "history.png", "manifold.png", "features.png"):
        assert (report / name).stat().st_size > 1000, name
    text = (report / "report.md").read_text()
    assert "# Study report: tiny" in text and "## Best trials" in text
    assert "## Parameter importances" in text and "## Network manifold" in text
    assert "no random-search baseline is available" in text
    best = max(study.trials, key=lambda t: t.value)
    assert f"| 1 | {best.number} | {best.value:.3f} |" in text
    for feature in ("class_separation", "ward_label_agreement", "spectral_entropy", "h1_total_persistence"):
        assert f"| {feature} |" in text

    code, stdout, _ = run_cli(capsys, ["explore", str(out)])
    assert code == 0
    page = (report / "manifold.html").read_text()
    doc = json.loads(re.search(r'<script id="data" type="application/json">(.*?)</script>', page, re.S)
                     .group(1).replace("<\\/", "</"))  # fmt: skip
    assert len(doc["points"]) == 4 and {p["number"] for p in doc["points"]} == {0, 1, 2, 3}
    assert all(set(p["params"]) and "test accuracy" in p["metrics"] for p in doc["points"])
    assert sum(1 for p in doc["points"] if p["best"]) == 3
    assert not re.search(r'(src|href)\s*=\s*["\']?https?:', page)  # offline: no CDN, no links

    # report from the config file as well, and into another directory
    code, stdout, _ = run_cli(capsys, ["report", str(config), "--out", str(tmp_path / "r2")])
    assert code == 0 and (tmp_path / "r2" / "report.md").is_file()


def test_config_run_from_another_directory(tmp_path, capsys, monkeypatch):
    """Relative paths in a config follow the config file, not the working directory."""
    project = tmp_path / "project"
    (project / "studies").mkdir(parents=True)
    config = project / "studies" / "tiny.toml"
    config.write_text(CONFIG.format(n_trials=3, out="../runs/tiny", space="digits", epochs=1))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    relative = os.path.relpath(config, elsewhere)

    code, _, err = run_cli(capsys, ["report", relative])
    assert code == 2 and "has not run yet" in err and err.count("\n") == 1

    code, stdout, stderr = run_cli(capsys, ["run", relative, "--no-progress", "--no-report"])
    assert code == 0, stderr
    db = (project / "runs" / "tiny" / "study.db").resolve()
    assert stderr.splitlines()[0].startswith(f"study 'tiny' in sqlite:///{db}:")
    assert db.is_file() and not (elsewhere / "runs").exists() and list(elsewhere.iterdir()) == []
    for command in ("report", "explore"):
        code, stdout, stderr = run_cli(capsys, [command, str(config)])
        assert code == 0, stderr
    assert (project / "runs" / "tiny" / "report" / "report.md").is_file()
    assert (project / "runs" / "tiny" / "report" / "manifold.html").is_file()


def test_baseline_and_changed_space(tmp_path, capsys):
    config = write_config(tmp_path, n_trials=3)
    assert run_cli(capsys, ["run", str(config), "--no-progress", "--no-report"])[0] == 0
    code, stdout, stderr = run_cli(capsys, ["run", str(config), "--sampler", "random", "--no-progress"])
    assert code == 0, stderr
    assert "tiny-random" in stderr and (tmp_path / "out" / "report-tiny-random" / "report.md").is_file()
    assert load(tmp_path, "tiny-random").user_attrs[RUN_ATTR]["sampler"]["name"] == "random"
    code, stdout, _ = run_cli(capsys, ["report", str(tmp_path / "out")])
    assert code == 0
    text = (tmp_path / "out" / "report" / "report.md").read_text()
    assert "random search (tiny-random)" in text and "no random-search baseline" not in text
    own = (tmp_path / "out" / "report-tiny-random" / "report.md").read_text()
    assert "this study is itself random search" in own  # no baseline needed for itself

    # a baseline file works too
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps({"label": "my random runs", "values": [0.1, 0.5, 0.4]}))
    code, _, _ = run_cli(capsys, ["report", str(tmp_path / "out"), "--baseline", str(baseline),
                                  "--out", str(tmp_path / "r")])  # fmt: skip
    assert code == 0 and "my random runs" in (tmp_path / "r" / "report.md").read_text()

    # changing the space's options of an existing study is refused (trials not comparable)
    config.write_text(config.read_text().replace("epochs = 1", "epochs = 2"))
    code, _, err = run_cli(capsys, ["run", str(config), "--trials", "5", "--no-progress"])
    assert code == 2 and "was run with space" in err and err.count("\n") == 1


def _wait_for_running(db: Path, number: int, proc: subprocess.Popen, timeout: float = 150) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        if db.exists():
            try:
                with sqlite3.connect(db) as conn:
                    row = conn.execute("select count(*) from trials where number = ? and "
                                       "state = 'RUNNING'", (number,)).fetchone()  # fmt: skip
                if row[0]:
                    return
            except sqlite3.Error:
                pass
        time.sleep(0.2)
    raise AssertionError(f"trial {number} never ran")


def _spawn(config: Path, env_extra: dict[str, str]) -> subprocess.Popen:
    env = {**os.environ, **env_extra,
           "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "manifold_search.cli", "run", str(config), "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip


def test_interrupt_and_kill_then_resume(tmp_path, capsys, monkeypatch):
    config = write_config(tmp_path, n_trials=4, space="slow_space:SlowDigits")
    db = tmp_path / "out" / "study.db"
    monkeypatch.syspath_prepend(str(TESTS))

    # Ctrl-C during trial 1 (KeyboardInterrupt raised inside the trial, in this
    # process): exit 130, the trial FAIL (interrupted), how to resume printed
    monkeypatch.setenv("INTERRUPT_TRIAL", "1")
    code, stdout, stderr = run_cli(capsys, ["run", str(config), "--no-progress"])
    monkeypatch.delenv("INTERRUPT_TRIAL")
    assert code == 130, stderr
    assert "interrupted" in stderr and "resume with: manifold-search run" in stderr
    study = load(tmp_path)
    assert states(study) == {"COMPLETE": 1, "FAIL": 1}
    assert study.trials[1].user_attrs[ERROR] == "interrupted (Ctrl-C)"

    # killed (SIGKILL) during trial 3: it stays RUNNING in the storage
    proc = _spawn(config, {"SLOW_TRIAL": "3", "SLOW_SECONDS": "60"})
    _wait_for_running(db, 3, proc)
    proc.kill()
    proc.communicate(timeout=30)
    assert states(load(tmp_path)) == {"COMPLETE": 2, "FAIL": 1, "RUNNING": 1}

    # resume: the stale trial is failed (and said so), the target counts finished trials
    code, stdout, stderr = run_cli(capsys, ["run", str(config), "--no-progress", "--no-report"])
    assert code == 0, stderr
    assert "marked 1 stale RUNNING trial(s) [3] as FAIL" in stderr
    study = load(tmp_path)
    assert states(study) == {"COMPLETE": 4, "FAIL": 2}
    assert "stale" in study.trials[3].user_attrs[ERROR]


def test_workers_share_the_storage(tmp_path, capsys):
    config = write_config(tmp_path, n_trials=5)
    code, stdout, stderr = run_cli(capsys, ["run", str(config), "--workers", "2", "--no-progress",
                                            "--no-report"])  # fmt: skip
    assert code == 0, stderr
    study = load(tmp_path)
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert 5 <= len(done) <= 6  # at most workers - 1 over the target
    assert len({json.dumps(t.params, sort_keys=True) for t in done}) == len(done)
    assert all(t.user_attrs[WORKER_ATTR]["pid"] != os.getpid() for t in done)


def test_explore_page_script_runs(tmp_path, capsys):
    """Run the page's JavaScript against a minimal DOM in node (skipped without node)."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    config = write_config(tmp_path, n_trials=3)
    assert run_cli(capsys, ["run", str(config), "--no-progress", "--no-report"])[0] == 0
    page = tmp_path / "page.html"
    assert run_cli(capsys, ["explore", str(tmp_path / "out"), "--out", str(page)])[0] == 0
    shim = tmp_path / "shim.js"
    shim.write_text(_SHIM)
    result = subprocess.run([node, str(shim), str(page)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["circles"] == 3 and doc["stars"] == 3 and doc["rows"] == 4  # header + 3 trials
    assert all(f.startswith("rgb(") for f in doc["fills"])
    assert "validation accuracy" in doc["options"] and "parameter 'family'" in doc["options"]
    assert doc["tip"] > 100  # hover filled the trial panel


def test_live_benchmark_problem_trains_for_real():
    from manifold_search.benchmark import SamplerSpec, execute, get_problem
    from manifold_search.benchmark.problems import ProblemError

    problem = get_problem("live:digits,epochs=1,probe_size=32")
    assert problem.direction == "maximize" and problem.optimum == 1.0
    record = execute(problem, SamplerSpec("random", "random"), seed=1, n_trials=3)
    assert record["failed_trials"] == 0
    assert all(0 < v <= 1 for v in record["values"])
    assert record["regret"][-1] == pytest.approx(1 - max(record["values"]))
    assert record["incumbent_test"][-1] is not None
    with pytest.raises(ProblemError, match="epochs"):
        get_problem("live:digits,epoch=1")
    with pytest.raises(ProblemError, match="seed"):
        get_problem("live:digits,seed=3")


_SHIM = r"""
const fs = require("fs");
const html = fs.readFileSync(process.argv[2], "utf8");
const data = html.match(/<script id="data" type="application\/json">([\s\S]*?)<\/script>/)[1];
const code = html.match(/<script>\n([\s\S]*?)<\/script>/)[1];
function El(tag) {
  return { tag, attrs: {}, children: [], style: {}, listeners: {}, innerHTML: "", textContent: "",
    classList: { s: new Set(), toggle(c, on) { on ? this.s.add(c) : this.s.delete(c); } },
    setAttribute(k, v) { this.attrs[k] = String(v); }, getAttribute(k) { return this.attrs[k]; },
    appendChild(c) { this.children.push(c); c.parentNode = this; return c; },
    addEventListener(ev, f) { this.listeners[ev] = f; } };
}
const ids = { data: Object.assign(El("script"), { textContent: data }),
  plot: Object.assign(El("svg"), { attrs: { width: "720", height: "540" } }),
  tip: El("div"), float: El("div"), legend: El("div"), trials: El("table"), colour: El("select") };
ids.colour.value = "0";
global.document = { getElementById: id => ids[id], createElementNS: (ns, t) => El(t),
                    createElement: t => El(t) };
eval(code);
const circles = ids.plot.children.filter(c => c.tag === "circle");
const out = { circles: circles.length, fills: circles.map(c => c.attrs.fill),
  stars: ids.plot.children.filter(c => c.tag === "polygon").length,
  rows: ids.trials.children.length + 1, options: ids.colour.children.map(o => o.textContent) };
circles[0].listeners.mouseenter({});
out.tip = ids.tip.innerHTML.length;
ids.colour.value = String(ids.colour.children.length - 1);
ids.colour.listeners.change();
console.log(JSON.stringify(out));
"""
