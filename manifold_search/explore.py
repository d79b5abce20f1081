"""An interactive, self-contained HTML page of a study's network manifold.

``write_explore(study, path)`` writes one HTML file: the PHATE layout of the
study's trained networks (the same as the report's ``manifold.png``) as inline
SVG, coloured by the objective, a manifold feature or a categorical parameter
(a menu), with the best trials marked. Hovering a point (or a row of the trial
table below) shows that trial's parameters and metrics; clicking pins it. The
data are embedded as JSON and the page uses a few lines of plain JavaScript: no
network access, no CDN, it works offline and can be mailed as one file.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any

import optuna

from manifold_search.study_report import FEATURES, StudyData, collect, fmt

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>__TITLE__</title>
<style>
  body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 1.2em 2em;
         color: #222; background: #fff; }
  h1 { font-size: 1.35em; margin: 0 0 .2em; }
  .sub { color: #555; margin-bottom: .8em; }
  .row { display: flex; gap: 1.5em; align-items: flex-start; flex-wrap: wrap; }
  #plot { border: 1px solid #ccc; background: #fcfcfc; }
  #plot circle { stroke: #333; stroke-width: .6; cursor: pointer; }
  #plot circle.hi { stroke: #d00; stroke-width: 2.5; }
  #plot .star { fill: none; stroke: #d00; stroke-width: 1.6; pointer-events: none; }
  #plot text { font-size: 11px; fill: #800; pointer-events: none; }
  #plot .axis { font-size: 12px; fill: #444; }
  #side { min-width: 320px; max-width: 430px; }
  #tip { border: 1px solid #bbb; border-radius: 4px; padding: .5em .8em; background: #fafafa;
         min-height: 6em; font-size: 13px; }
  #tip table { border-collapse: collapse; }
  #tip td { padding: 1px 8px 1px 0; vertical-align: top; }
  #tip td:first-child { color: #555; white-space: nowrap; }
  #float { position: fixed; pointer-events: none; background: rgba(255,255,255,.96); border: 1px solid #999;
           border-radius: 3px; padding: 3px 6px; font-size: 12px; display: none; }
  #legend { margin: .6em 0; font-size: 12px; }
  #bar { height: 12px; width: 300px; border: 1px solid #999; }
  .swatch { display: inline-block; width: 12px; height: 12px; border: 1px solid #555; margin: 0 4px 0 10px;
            vertical-align: middle; }
  table.trials { border-collapse: collapse; font-size: 12px; margin-top: 1em; }
  table.trials th, table.trials td { border-bottom: 1px solid #e3e3e3; padding: 2px 8px; text-align: right; }
  table.trials th { background: #f2f2f2; position: sticky; top: 0; }
  table.trials td.cfg { text-align: left; color: #444; }
  table.trials tr:hover, table.trials tr.hi { background: #fff3c4; cursor: pointer; }
  select { font-size: 13px; }
</style>
</head>
<body>
<h1>__TITLE__</h1>
<div class="sub">__SUBTITLE__</div>
<div class="row">
  <div>
    <label>Colour by <select id="colour"></select></label>
    <div id="legend"></div>
    <svg id="plot" width="720" height="540" role="img" aria-label="network manifold"></svg>
  </div>
  <div id="side">
    <b>Trial</b> <span style="color:#666">(hover a point or a row; click to pin)</span>
    <div id="tip">Hover a network.</div>
    <p style="color:#555;font-size:12px">__EXPLAIN__</p>
  </div>
</div>
<div id="float"></div>
<table class="trials" id="trials"></table>
<script id="data" type="application/json">__DATA__</script>
<script>
"use strict";
const D = JSON.parse(document.getElementById("data").textContent);
const svg = document.getElementById("plot"), NS = "http://www.w3.org/2000/svg";
const W = +svg.getAttribute("width"), H = +svg.getAttribute("height"), PAD = 34;
const VIRIDIS = ["#440154","#482878","#3e4989","#31688e","#26828e","#1f9e89","#35b779","#6ece58","#b5de2b","#fde725"];
const CAT = ["#1f77b4","#ff7f0e","#2ca02c","#d62728","#9467bd","#8c564b","#e377c2","#7f7f7f","#bcbd22","#17becf"];
function hex(c) { return [1,3,5].map(i => parseInt(c.slice(i, i + 2), 16)); }
function ramp(t) {
  if (!isFinite(t)) return "#cccccc";
  t = Math.min(1, Math.max(0, t)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(t)), f = t - i, a = hex(VIRIDIS[i]), b = hex(VIRIDIS[i + 1]);
  return "rgb(" + a.map((v, k) => Math.round(v + f * (b[k] - v))).join(",") + ")";
}
function num(v) {
  if (v === null || v === undefined) return "-";
  if (typeof v !== "number") return String(v);
  if (!isFinite(v)) return "-";
  if (Number.isInteger(v)) return v.toLocaleString("en");
  return (Math.abs(v) >= 1e-3 && Math.abs(v) < 1) ? v.toFixed(3) : v.toPrecision(4);
}
function esc(s) { return String(s).replace(/[&<>"]/g, c => ({"&":"&amp;","<":"&lt;",">":"&gt;","\\"":"&quot;"})[c]); }
const xs = D.points.map(p => p.x), ys = D.points.map(p => p.y);
const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
const sx = x => PAD + (x1 > x0 ? (x - x0) / (x1 - x0) : .5) * (W - 2 * PAD);
const sy = y => H - PAD - (y1 > y0 ? (y - y0) / (y1 - y0) : .5) * (H - 2 * PAD);
function el(name, attrs, parent) {
  const e = document.createElementNS(NS, name);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  (parent || svg).appendChild(e); return e;
}
el("text", {x: W / 2, y: H - 8, "text-anchor": "middle", class: "axis"}).textContent = "PHATE 1";
const yl = el("text", {x: 14, y: H / 2, "text-anchor": "middle", class: "axis",
                       transform: "rotate(-90 14 " + H / 2 + ")"});
yl.textContent = "PHATE 2";
const circles = [], rows = [];
let pinned = null;
function show(i) {
  const p = D.points[i];
  let h = "<table><tr><td>trial</td><td><b>#" + p.number + "</b>" + (p.best ? " (best " + p.best + ")" : "") + "</td></tr>";
  h += "<tr><td>" + esc(D.label) + "</td><td><b>" + num(p.value) + "</b></td></tr>";
  for (const [k, v] of Object.entries(p.metrics)) h += "<tr><td>" + esc(k) + "</td><td>" + num(v) + "</td></tr>";
  h += "<tr><td colspan=2><i>parameters</i></td></tr>";
  for (const [k, v] of Object.entries(p.params)) h += "<tr><td>" + esc(k) + "</td><td>" + esc(num(v)) + "</td></tr>";
  h += "<tr><td colspan=2><i>manifold features</i></td></tr>";
  for (const [k, v] of Object.entries(p.features)) h += "<tr><td>" + esc(k) + "</td><td>" + num(v) + "</td></tr>";
  document.getElementById("tip").innerHTML = h + "</table>";
}
function highlight(i, on) {
  circles[i].classList.toggle("hi", on); rows[i].classList.toggle("hi", on);
  if (on) { circles[i].parentNode.appendChild(circles[i]); show(i); }
}
const float = document.getElementById("float");
D.points.forEach((p, i) => {
  const c = el("circle", {cx: sx(p.x), cy: sy(p.y), r: 6});
  c.addEventListener("mouseenter", ev => {
    if (pinned === null) highlight(i, true);
    float.style.display = "block"; float.textContent = "#" + p.number + ": " + num(p.value);
  });
  c.addEventListener("mousemove", ev => { float.style.left = (ev.clientX + 12) + "px"; float.style.top = (ev.clientY + 12) + "px"; });
  c.addEventListener("mouseleave", () => { float.style.display = "none"; if (pinned === null) highlight(i, false); });
  c.addEventListener("click", () => { if (pinned !== null) highlight(pinned, false); pinned = pinned === i ? null : i; if (pinned !== null) highlight(i, true); });
  circles.push(c);
});
D.points.forEach(p => {
  if (!p.best) return;
  const cx = sx(p.x), cy = sy(p.y), pts = [];
  for (let k = 0; k < 10; k++) {
    const r = k % 2 ? 6 : 14, a = Math.PI / 5 * k - Math.PI / 2;
    pts.push((cx + r * Math.cos(a)).toFixed(1) + "," + (cy + r * Math.sin(a)).toFixed(1));
  }
  el("polygon", {points: pts.join(" "), class: "star"});
  el("text", {x: cx + 10, y: cy - 10}).textContent = "#" + p.number;
});
const select = document.getElementById("colour");
D.colourings.forEach((c, k) => { const o = document.createElement("option"); o.value = k; o.textContent = c.title; select.appendChild(o); });
function colour() {
  const c = D.colourings[+select.value], legend = document.getElementById("legend");
  if (c.kind === "category") {
    const levels = [...new Set(D.points.map(p => String(p.params[c.key])))]
      .sort((a, b) => (isFinite(a) && isFinite(b)) ? a - b : a.localeCompare(b));
    D.points.forEach((p, i) => circles[i].setAttribute("fill", CAT[levels.indexOf(String(p.params[c.key])) % CAT.length]));
    legend.innerHTML = esc(c.title) + ":" + levels.map((l, k) => "<span class=swatch style='background:" + CAT[k % CAT.length] + "'></span>" + esc(l)).join("");
    return;
  }
  const v = D.points.map(p => c.key === "__value__" ? p.value : p.features[c.key]);
  const fin = v.filter(isFinite), lo = Math.min(...fin), hi = Math.max(...fin);
  D.points.forEach((p, i) => circles[i].setAttribute("fill", ramp(hi > lo ? (v[i] - lo) / (hi - lo) : .5)));
  const stops = VIRIDIS.map((s, k) => s + " " + (100 * k / (VIRIDIS.length - 1)) + "%").join(",");
  legend.innerHTML = esc(c.title) + ": " + num(lo) + " <span id=bar style='display:inline-block;vertical-align:middle;background:linear-gradient(to right," + stops + ")'></span> " + num(hi);
}
select.addEventListener("change", colour);
const table = document.getElementById("trials");
const metricNames = D.points.length ? Object.keys(D.points[0].metrics) : [];
table.innerHTML = "<tr><th>trial</th><th>" + esc(D.label) + "</th>" + metricNames.map(m => "<th>" + esc(m) + "</th>").join("") + "<th style='text-align:left'>configuration</th></tr>";
const order = D.points.map((p, i) => i).sort((a, b) => (D.maximize ? -1 : 1) * (D.points[a].value - D.points[b].value));
const rowOf = [];
order.forEach(i => {
  const p = D.points[i], tr = document.createElement("tr");
  tr.innerHTML = "<td>#" + p.number + "</td><td>" + num(p.value) + "</td>" + metricNames.map(m => "<td>" + num(p.metrics[m]) + "</td>").join("") +
    "<td class=cfg>" + esc(Object.entries(p.params).map(([k, v]) => k + "=" + num(v)).join(", ")) + "</td>";
  tr.addEventListener("mouseenter", () => { if (pinned === null) highlight(i, true); });
  tr.addEventListener("mouseleave", () => { if (pinned === null) highlight(i, false); });
  tr.addEventListener("click", () => { if (pinned !== null) highlight(pinned, false); pinned = pinned === i ? null : i; if (pinned !== null) highlight(i, true); });
  table.appendChild(tr); rowOf[i] = tr;
});
rowOf.forEach((tr, i) => { rows[i] = tr; });
colour();
</script>
</body>
</html>
"""


def _clean(value: Any) -> Any:
    """JSON-safe values: non-finite floats become null, other objects strings."""
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return str(value)


def page_data(data: StudyData) -> dict[str, Any]:
    """The JSON document the page draws."""
    by_number = data.by_number
    best = {k: rank for rank, k in enumerate(data.best_keys(), start=1)}
    points = []
    for i, key in enumerate(data.keys):
        t = by_number[key]
        ua = t.user_attrs
        metrics = {
            "test accuracy": ua.get("test_accuracy"),
            "parameters": ua.get("n_params"),
            "train seconds": ua.get("train_seconds"),
            "epochs run": ua.get("epochs_run"),
        }
        if key in data.region:
            metrics["region score"] = data.region[key]
        points.append({
            "number": key,
            "x": float(data.coords[i, 0]),
            "y": float(data.coords[i, 1]) if data.coords.shape[1] > 1 else 0.0,
            "value": _clean(t.value),
            "best": best.get(key, 0),
            "metrics": {k: _clean(v) for k, v in metrics.items() if v is not None},
            "params": {k: _clean(v) for k, v in t.params.items()},
            "features": {name: _clean(data.features[key].get(name)) for name, _, _ in FEATURES},
        })
    colourings = [{"key": "__value__", "title": data.label, "kind": "value"}]
    colourings += [{"key": name, "title": title, "kind": "value"} for name, title, _ in FEATURES]
    if data.keys:
        first = by_number[data.keys[0]]
        for name, dist in first.distributions.items():
            if isinstance(dist, optuna.distributions.CategoricalDistribution) and all(
                name in by_number[k].params for k in data.keys
            ):
                colourings.append({"key": name, "title": f"parameter '{name}'", "kind": "category"})
    return {"label": data.label, "maximize": data.maximize, "points": points,
            "colourings": colourings}  # fmt: skip


def build_html(data: StudyData) -> str:
    """The page as one string."""
    doc = json.dumps(page_data(data), allow_nan=False).replace("</", "<\\/")
    study = data.study
    meta = data.meta
    space = (meta.get("space") or {}).get("name", "?")
    sampler = (meta.get("sampler") or {}).get("name", "?")
    best = data.ranked()[0] if data.complete else None
    subtitle = (
        f"{len(data.keys)} trained networks of study '{study.study_name}' (space {space}, sampler "
        f"{sampler}); {study.direction.name.lower()} {data.label}"
        + (f"; best trial #{best.number}: {fmt(best.value)}" if best else "")
    )
    explain = (
        "Each point is a trained network, placed by PHATE on the distances between the "
        "networks' diffusion operators on the study's fixed probe set: networks that arrange "
        "the probe inputs alike sit close together. Red stars: the best 3 trials."
    )
    return (
        _PAGE.replace("__TITLE__", html.escape(f"Network manifold: {study.study_name}"))
        .replace("__SUBTITLE__", html.escape(subtitle))
        .replace("__EXPLAIN__", html.escape(explain))
        .replace("__DATA__", doc)
    )


def write_explore(study: optuna.Study, path: str | Path, data: StudyData | None = None) -> Path:
    """Write the page for ``study`` to ``path``; return the path."""
    data = data if data is not None else collect(study)
    if len(data.keys) < 1:
        from manifold_search.study_report import ReportError

        raise ReportError(
            f"study {study.study_name!r} has no recorded network to show "
            f"({'; '.join(data.notes) or 'no COMPLETE trial'})"
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(build_html(data), encoding="utf-8")
    return path


__all__ = ["build_html", "page_data", "write_explore"]
