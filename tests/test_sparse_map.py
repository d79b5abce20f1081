"""Sparse networks of the refine stage on the manifold, beside their dense originals.

One tiny real run (digits, 1 epoch, 4 trials, manifold sampler) with a ``[refine]``
section: each sparse network's probe representation is stored, the report and the
explore page place it out of sample next to its original, and the sampler's
manifold holds trials only.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import optuna
import pytest

from manifold_search._attrs import SPARSE
from manifold_search.study.config import load_config
from manifold_search.study.plan import make_plan
from manifold_search.study.runner import run_study

CONFIG = """
[study]
name = "tiny"
n_trials = 4
seed = 0
output_dir = "{out}"

[space]
name = "digits"
epochs = 1
probe_size = 32

[sampler]
name = "manifold"
n_startup_trials = 2

[refine]
top = 1
sparsity = [0.5, 0.9]
methods = ["fip", "magnitude"]
steps = 40
"""


@pytest.fixture(scope="module")
def refined(tmp_path_factory):
    """(study, run folder) of a 4-trial digits run whose best trial was sparsified by ``run``."""
    tmp = tmp_path_factory.mktemp("sparsemap")
    path = tmp / "tiny.toml"
    path.write_text(CONFIG.format(out=tmp / "out"))
    plan = make_plan(load_config(path))
    outcome = run_study(plan, progress=False, log=lambda m: None)
    assert outcome.refine is not None
    return optuna.load_study(study_name="tiny", storage=plan.storage_url), tmp / "out"


def _rows(out: Path) -> list[dict]:
    return json.loads((out / "report" / "refine.json").read_text())


def test_sparse_networks_are_placed_beside_their_originals(refined):
    from manifold_search.study.data import collect
    from manifold_search.study.explore import page_data

    study, out = refined
    best = study.best_trial.number
    data = collect(study)
    doc = page_data(data)
    sparse = doc["sparse"]
    assert sorted((s["method"], s["sparsity"]) for s in sparse) == [
        ("fip", 0.5), ("fip", 0.9), ("magnitude", 0.5), ("magnitude", 0.9)]  # fmt: skip
    assert all(s["trial"] == best for s in sparse)
    assert all(math.isfinite(s["x"]) and math.isfinite(s["y"]) for s in sparse)
    assert all(s["nearest"] in {p["number"] for p in doc["points"]} for s in sparse)
    refine = {(r["method"], r["sparsity"]): r for r in _rows(out) if r["method"] != "dense"}
    for s in sparse:  # the manifold's own operator gives the refine table's distance to the original
        row = refine[(s["method"], s["sparsity"])]
        assert s["distance"] == pytest.approx(row["distance"], rel=1e-5, abs=1e-7)
        assert s["kept"] == pytest.approx(row["kept"])
    # placed inside the dense layout's bounding box (a convex combination of dense networks)
    xs, ys = data.coords[:, 0], data.coords[:, 1]
    assert all(xs.min() - 1e-9 <= s["x"] <= xs.max() + 1e-9 and ys.min() - 1e-9 <= s["y"] <= ys.max() + 1e-9
               for s in sparse)  # fmt: skip
    assert not any("sparse" in n for n in data.notes), data.notes


def test_the_dense_layout_and_the_samplers_manifold_hold_trials_only(refined):
    from manifold_search.manifold import NetworkManifold
    from manifold_search.sampler import ManifoldSampler
    from manifold_search.study.data import collect
    from search_spaces import get_space

    study, _ = refined
    recorded = sorted(t.number for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE)
    assert study.user_attrs[SPARSE]  # the refine stage indexed sparse networks on the study
    assert NetworkManifold.from_study(study, cache=None).keys == recorded
    data = collect(study)
    assert data.keys == recorded and len(data.coords) == len(recorded)
    # a further trial proposed by the manifold sampler: its manifold holds trials only
    sampler = ManifoldSampler(seed=0, n_startup_trials=2)
    study.sampler = sampler
    study.optimize(get_space("digits", epochs=1, probe_size=32), n_trials=1)
    assert sampler.manifold is not None
    numbers = {t.number for t in study.trials}
    assert set(sampler.manifold.keys) <= numbers and len(sampler.manifold.keys) >= len(recorded)
    assert len(sampler.manifold.keys) == len(set(sampler.manifold.keys))


def test_report_draws_them_and_says_so(refined):
    from manifold_search.study.data import collect
    from manifold_search.study.plots import _figure
    from manifold_search.study.sparse_plot import draw_sparse

    study, out = refined
    report = out / "report"
    assert (report / "manifold.png").stat().st_size > 1000
    assert (report / "sparse.png").stat().st_size > 1000  # the zoomed view, one panel per winner
    assert "](sparse.png)" in (report / "report.md").read_text()
    assert "Hollow diamonds" in (report / "report.md").read_text()
    assert "manifold.png" in (report / "refine.md").read_text()
    data = collect(study)
    ax = _figure(4, 3).add_subplot()
    draw_sparse(ax, data, data.coords)
    assert len(ax.lines) == 4  # one line from each sparse network to its original
    # the refined winner (the module's other tests may add a trial that beats it since)
    (winner,) = {r["trial"] for r in _rows(out)}
    best = data.coords[data.keys.index(winner)]
    assert all(np.allclose(line.get_xydata()[0], best) for line in ax.lines)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["sparse, fip (2)", "sparse, magnitude (2)"]
    other = _figure(4, 3).add_subplot()
    draw_sparse(other, data, data.coords, trial=study.best_trial.number + 1000)  # no such winner
    assert not other.lines and not other.collections
    diamonds = ax.collections  # one scatter of hollow diamonds per method, two networks each
    assert [len(c.get_offsets()) for c in diamonds] == [2, 2]
    assert all(len(c.get_facecolors()) == 0 or c.get_facecolors()[0][3] == 0 for c in diamonds)


def test_sparse_networks_without_records_are_noted_not_drawn():
    from manifold_search.manifold import NetworkManifold
    from manifold_search.sparse_networks import read_sparse
    from manifold_search.study.sparse import place_sparse

    study = optuna.create_study()
    study.set_user_attr(SPARSE, {"0": {"fip": {"0.9": "weights-id"}}, "7": {"fip": {"0.5": "w"}}})
    assert [(n.trial, n.record) for n in read_sparse(study)] == [(0, None), (7, None)]
    manifold = NetworkManifold(cache=None)
    rng = np.random.default_rng(0)
    for key in range(3):
        manifold.add(key, rng.normal(size=(16, 4)))
    notes: list[str] = []
    assert place_sparse(study, manifold, np.zeros((3, 2)), notes) == []
    assert any("trial(s) [7]" in n for n in notes)
    assert any("sparsified before their representations were recorded" in n and "sparsify" in n for n in notes)


_SHIM = r"""
const fs = require("fs");
const html = fs.readFileSync(process.argv[2], "utf8");
const data = html.match(/<script id="data" type="application\/json">([\s\S]*?)<\/script>/)[1];
const main = html.match(/<script>\n([\s\S]*?)<\/script>/)[1];
const sparse = html.match(/<script id="sparse-script">\n([\s\S]*?)<\/script>/)[1];
function El(tag) {
  return { tag, attrs: {}, children: [], style: {}, listeners: {}, innerHTML: "", textContent: "",
    classList: { s: new Set(), toggle(c, on) { on ? this.s.add(c) : this.s.delete(c); } },
    setAttribute(k, v) { this.attrs[k] = String(v); }, getAttribute(k) { return this.attrs[k]; },
    appendChild(c) { this.children.push(c); c.parentNode = this; return c; },
    insertBefore(c, ref) { const i = this.children.indexOf(ref);
      this.children.splice(i < 0 ? this.children.length : i, 0, c); c.parentNode = this; return c; },
    querySelector(tag) { return this.children.find(c => c.tag === tag) || null; },
    addEventListener(ev, f) { this.listeners[ev] = f; } };
}
const body = El("body");
const ids = { data: Object.assign(El("script"), { textContent: data }),
  plot: Object.assign(El("svg"), { attrs: { width: "720", height: "540" } }),
  tip: El("div"), float: El("div"), legend: El("div"), trials: El("table"), colour: El("select") };
body.appendChild(ids.plot); body.appendChild(ids.trials);
ids.colour.value = "0";
global.document = { getElementById: id => ids[id], createElementNS: (ns, t) => El(t),
                    createElement: t => El(t) };
eval(main + "\n" + sparse);
const kids = ids.plot.children, groups = kids.filter(c => c.tag === "g");
const lines = groups.flatMap(g => g.children.filter(c => c.tag === "line"));
const diamonds = groups.flatMap(g => g.children.filter(c => c.tag === "polygon"));
const table = body.children.find(c => c.id === "sparse");
const out = { lines: lines.length, diamonds: diamonds.length, rows: table ? table.children.length : 0,
  linesUnderPoints: kids.indexOf(groups[0]) < kids.findIndex(c => c.tag === "circle"),
  finite: lines.every(l => ["x1", "y1", "x2", "y2"].every(k => isFinite(+l.attrs[k]))) };
diamonds[0].listeners.mouseenter({});
out.tip = ids.tip.innerHTML;
console.log(JSON.stringify(out));
"""


def test_explore_page_draws_sparse_networks(refined, tmp_path):
    """Both scripts of the page against a minimal DOM in node (skipped without node)."""
    from manifold_search.study.explore import write_explore

    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    study, _ = refined
    page = write_explore(study, tmp_path / "manifold.html")
    html = page.read_text()
    assert "Hollow diamonds" in html and not re.search(r'(src|href)\s*=\s*["\']?https?:', html)
    shim = tmp_path / "shim.js"
    shim.write_text(_SHIM)
    result = subprocess.run([node, str(shim), str(page)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["lines"] == doc["diamonds"] == doc["rows"] == 4
    assert doc["linesUnderPoints"] and doc["finite"]
    assert "sparse network of" in doc["tip"] and "distance to original" in doc["tip"] and "kept" in doc["tip"]


def test_a_replaced_entry_leaves_no_files_behind(tmp_path):
    from optuna.artifacts import FileSystemArtifactStore, upload_artifact

    from manifold_search.sparse_networks import remove_artifacts

    store = FileSystemArtifactStore(str(tmp_path / "store"))
    (tmp_path / "store").mkdir()
    study = optuna.create_study()
    (tmp_path / "f").write_bytes(b"x")
    ids = [upload_artifact(artifact_store=store, file_path=str(tmp_path / "f"), study_or_trial=study)
           for _ in range(3)]  # fmt: skip
    remove_artifacts(store, {"weights": ids[0], "record": {"artifact_id": ids[1]}})
    remove_artifacts(store, ids[2])  # an entry of the older format: the weights id alone
    remove_artifacts(store, ids[2])  # already gone: no error
    assert list((tmp_path / "store").iterdir()) == []
