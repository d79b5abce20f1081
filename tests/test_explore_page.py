"""The explore page: values with significant digits (Python and the page's JavaScript give
the same text) and best-trial labels that do not overlap (issue 12)."""

from __future__ import annotations

import itertools
import json
import math
import re
import shutil
import subprocess
from importlib.resources import files

import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution

from manifold_search._format import number, param_value
from manifold_search.study._labels import overlap
from manifold_search.study.data import FEATURES, StudyData
from manifold_search.study.explore import HEIGHT, STAR, WIDTH, _text_size, build_html, page_data

TEMPLATE = (files("manifold_search.study") / "explore.html").read_text(encoding="utf-8")
NODE = shutil.which("node")


def test_parameter_values_keep_their_significant_digits() -> None:
    assert param_value(0.00993) == "0.00993"
    assert param_value(0.0014) == "0.0014"
    assert param_value(0.0014013) == "0.0014"
    assert param_value(1e-6) == "1e-06"
    assert param_value(128) == "128"
    assert param_value(True) == "True"
    assert param_value("cnn") == "cnn"


def test_the_page_formats_no_parameter_with_fixed_decimals() -> None:
    script = TEMPLATE[TEMPLATE.index("<script>"):]
    assert "toFixed(3)" not in script
    assert re.search(r'k \+ "=" \+ param\(v\)', script)  # the table's configuration column


def _values() -> list[float | int | bool | str | None]:
    rng = np.random.default_rng(0)
    logs = [float(10.0 ** rng.uniform(-9, 6)) for _ in range(300)]
    special = [0.00993, 0.0014, 0.0014013, 1e-6, 1.0000000000000004e-06, 0.96251, 0.1, 0.5,
               0.9999, 0.99996, 99.99, 9999.5, 123.456, 3.0, 0.0, -0.0123456, -2.5e-7, 1e-4,
               9.99995e-5, 12345, 128, 7, 0, True, False, "cnn", None]  # fmt: skip
    return special + logs + [-v for v in logs[:50]]


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_javascript_formatting_matches_python(tmp_path) -> None:
    block = re.search(r"// BEGIN number formatting.*?// END number formatting", TEMPLATE, re.S)
    assert block, "the template's formatting block is marked BEGIN/END number formatting"
    values = _values()
    script = tmp_path / "fmt.js"
    script.write_text(block.group(0) + "\nconst vs = " + json.dumps(values) + ";\n"
                      "console.log(JSON.stringify(vs.map(v => [num(v), param(v)])));\n")  # fmt: skip
    result = subprocess.run([NODE, str(script)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    for value, (js_num, js_param) in zip(values, json.loads(result.stdout), strict=True):
        if value is not None:  # parameters are never None
            assert js_param == param_value(value), value
        if not isinstance(value, str):
            assert js_num == number(value, significant=4), value


def _study_data(coords: np.ndarray, values: list[float]) -> StudyData:
    """A real (in-memory) Optuna study with one trial per point."""
    study = optuna.create_study(direction="maximize")
    dists = {"lr": FloatDistribution(1e-6, 0.1, log=True), "family": CategoricalDistribution(["cnn", "mlp"])}
    for i, value in enumerate(values):
        study.add_trial(optuna.trial.create_trial(
            params={"lr": [0.00993, 0.0014, 1e-6][i % 3], "family": "cnn" if i % 2 else "mlp"},
            distributions=dists, value=value, user_attrs={"test_accuracy": value - 0.01}))  # fmt: skip
    trials = study.get_trials()
    return StudyData(study=study, meta={}, label="validation accuracy", maximize=True,
                     trials=trials, complete=trials, keys=[t.number for t in trials], coords=coords,
                     features={t.number: {n: 0.5 for n, _, _ in FEATURES} for t in trials})  # fmt: skip


def _boxes(labels: list[dict]) -> list[tuple[float, float, float, float]]:
    out = []
    for label in labels:
        w, h = _text_size(label["text"])
        out.append((label["x"] - w / 2, label["y"] - h / 2, label["x"] + w / 2, label["y"] + h / 2))
    return out


def test_labels_of_stacked_best_trials_do_not_overlap() -> None:
    # the three best (trials 1, 2, 3) sit within a few pixels of each other in a corner
    coords = np.array([[0.0, 0.0], [1.0, 1.0], [0.995, 0.99], [0.98, 1.0], [0.5, 0.2], [0.2, 0.7]])
    data = _study_data(coords, [0.5, 0.97, 0.96, 0.955, 0.7, 0.6])
    doc = page_data(data)
    labels = doc["labels"]
    named = " ".join(label["text"] for label in labels)
    assert sorted(re.findall(r"#(\d+)", named)) == ["1", "2", "3"] and "#1 best" in named
    boxes = _boxes(labels)
    for a, b in itertools.combinations(boxes, 2):
        assert overlap(a, b) == 0
    stars = [(p["px"], p["py"]) for p in doc["points"] if p["best"]]
    for (x0, y0, x1, y1), (x, y) in itertools.product(boxes, stars):
        assert math.hypot(max(x0 - x, 0, x - x1), max(y0 - y, 0, y - y1)) >= STAR - 1e-6
    for x0, y0, x1, y1 in boxes:
        assert 0 <= x0 and x1 <= WIDTH and 0 <= y0 and y1 <= HEIGHT


_SHIM = r"""
const fs = require("fs");
const html = fs.readFileSync(process.argv[2], "utf8");
const data = html.match(/<script id="data" type="application\/json">([\s\S]*?)<\/script>/)[1];
const code = html.match(/<script>\n([\s\S]*?)<\/script>/)[1];
function El(tag) {
  return { tag, attrs: {}, children: [], style: {}, listeners: {}, innerHTML: "", textContent: "",
    classList: { toggle() {} }, setAttribute(k, v) { this.attrs[k] = String(v); },
    getAttribute(k) { return this.attrs[k]; }, addEventListener(ev, f) { this.listeners[ev] = f; },
    appendChild(c) { this.children.push(c); c.parentNode = this; return c; } };
}
const ids = { data: Object.assign(El("script"), { textContent: data }), plot: El("svg"), tip: El("div"),
  float: El("div"), legend: El("div"), trials: El("table"), colour: El("select") };
ids.colour.value = "0";
global.document = { getElementById: id => ids[id], createElementNS: (ns, t) => El(t),
                    createElement: t => El(t) };
eval(code);
ids.plot.children.find(c => c.tag === "circle").listeners.mouseenter({});
console.log(JSON.stringify({
  labels: ids.plot.children.filter(c => c.tag === "text" && c.attrs.class.startsWith("lab")).map(c => c.textContent),
  lines: ids.plot.children.filter(c => c.tag === "line").length,
  rows: ids.trials.children.map(r => r.innerHTML), tip: ids.tip.innerHTML }));
"""


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_the_page_draws_the_labels_and_significant_digits(tmp_path) -> None:
    coords = np.array([[0.0, 0.0], [1.0, 1.0], [1.0, 1.0], [0.97, 0.99], [0.5, 0.2]])
    data = _study_data(coords, [0.5, 0.97, 0.96, 0.955, 0.7])
    page, shim = tmp_path / "page.html", tmp_path / "shim.js"
    page.write_text(build_html(data))
    shim.write_text(_SHIM)
    result = subprocess.run([NODE, str(shim), str(page)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["labels"] == [label["text"] for label in page_data(data)["labels"]]
    assert "#1 best, #2" in out["labels"]  # trials 1 and 2 coincide: one label names both
    rows = " ".join(out["rows"])
    assert "lr=0.00993" in rows and "lr=0.0014" in rows and "lr=1e-06" in rows
    assert "lr=0.010" not in rows and "lr=0.001," not in rows
    assert "full precision: lr=0.00993" in rows
    assert "0.0014" in out["tip"] or "0.00993" in out["tip"] or "0.000001" in out["tip"]
