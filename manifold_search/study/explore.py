"""An interactive, self-contained HTML page of a study's network manifold.

``write_explore(study, path)`` writes one HTML file: the PHATE layout of the
study's trained networks (the same as the report's ``manifold.png``) as inline
SVG, coloured by the objective, a manifold feature or a categorical parameter
(a menu), with the best trials marked and labelled (labels placed in Python by
:mod:`._labels`, so that none overlaps another) and the refine stage's sparse networks
beside their dense originals (hollow diamonds, :mod:`manifold_search.study.sparse`).
Hovering a point (or a row of the trial table below) shows that trial's parameters at
full precision and its metrics; clicking pins it. The table gives parameters to 3
significant digits (as the report does), never fixed decimals, which print log-scale
values as 0.010 and 0.001. The
data are embedded as JSON into the template ``explore.html`` (package data), and
the page uses a few lines of plain JavaScript: no network access, no CDN, it
works offline and can be mailed as one file.
"""

from __future__ import annotations

import html
import json
import math
from importlib.resources import files
from pathlib import Path
from typing import Any

import optuna

from manifold_search._format import number
from manifold_search.study._labels import label_layout, leader_segment
from manifold_search.study.data import FEATURES, StudyData, categorical_params, collect
from manifold_search.study.storage import ReportError

#: The plot's size and padding in SVG pixels, and the best-trial star's outer radius.
WIDTH, HEIGHT, PAD, STAR = 720, 540, 34, 14.0


def _clean(value: Any) -> Any:
    """JSON-safe values: non-finite floats become null, other objects strings."""
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return str(value)


def _pixels(coords: Any, frame: Any = None) -> list[tuple[float, float]]:
    """PHATE coordinates to the plot's SVG pixels (y grows downwards), padded by PAD;
    ``frame``: the coordinates that set the plot's extent (default ``coords``), so that
    points placed among the trials (sparse networks) share the trials' pixels."""
    def split(points: Any) -> tuple[list[float], list[float]]:
        return ([float(c[0]) for c in points],
                [float(c[1]) if len(c) > 1 else 0.0 for c in points])  # fmt: skip

    xs, ys = split(coords)
    fx, fy = split(coords if frame is None else frame)

    def scale(v: float, lo: float, hi: float, size: int) -> float:
        return PAD + ((v - lo) / (hi - lo) if hi > lo else 0.5) * (size - 2 * PAD)

    return [(round(scale(x, min(fx), max(fx), WIDTH), 2),
             round(HEIGHT - scale(y, min(fy), max(fy), HEIGHT), 2)) for x, y in zip(xs, ys, strict=True)]  # fmt: skip


def _text_size(text: str) -> tuple[float, float]:
    """A label's box in the page's 11 px sans-serif (bold is at most 7 px a character)."""
    return 7.0 * len(text) + 2, 14.0


def best_labels(data: StudyData, pixels: list[tuple[float, float]]) -> list[dict[str, Any]]:
    """The best trials' labels in SVG pixels, none overlapping (see :mod:`._labels`)."""
    index = {k: i for i, k in enumerate(data.keys)}
    keys = data.best_keys()
    anchors = [pixels[index[k]] for k in keys]
    texts = [f"#{k} best" if rank == 0 else f"#{k}" for rank, k in enumerate(keys)]
    labels = label_layout(anchors, texts, _text_size, offset=STAR, keep_clear=STAR, merge_radius=STAR,
                          dots=pixels, dot_radius=7.0, bounds=(2.0, 2.0, WIDTH - 2.0, HEIGHT - 2.0),
                          y_down=True)  # fmt: skip
    return [{"text": lb.text, "x": round(lb.x, 2), "y": round(lb.y, 2), "bold": 0 in lb.members,
             "leader": [round(v, 2) for v in leader_segment(lb, STAR)] if lb.leader else None}
            for lb in labels]  # fmt: skip


def page_data(data: StudyData) -> dict[str, Any]:
    """The JSON document the page draws."""
    by_number = data.by_number
    best = {k: rank for rank, k in enumerate(data.best_keys(), start=1)}
    pixels = _pixels(data.coords)
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
            "px": pixels[i][0],
            "py": pixels[i][1],
            "value": _clean(t.value),
            "best": best.get(key, 0),
            "metrics": {k: _clean(v) for k, v in metrics.items() if v is not None},
            "params": {k: _clean(v) for k, v in t.params.items()},
            "features": {name: _clean(data.features[key].get(name)) for name, _, _ in FEATURES},
        })
    colourings = [{"key": "__value__", "title": data.label, "kind": "value"}]
    colourings += [{"key": name, "title": title, "kind": "value"} for name, title, _ in FEATURES]
    colourings += [{"key": name, "title": f"parameter '{name}'", "kind": "category"}
                   for name in categorical_params(data)]  # fmt: skip
    return {"label": data.label, "maximize": data.maximize, "points": points,
            "colourings": colourings, "width": WIDTH, "height": HEIGHT, "pad": PAD, "star": STAR,
            "labels": best_labels(data, pixels), "sparse": sparse_data(data)}  # fmt: skip


def sparse_data(data: StudyData) -> list[dict[str, Any]]:
    """The refine stage's sparse networks as the page draws them (beside their originals)."""
    fields = ("trial", "method", "sparsity", "x", "y", "distance", "test_accuracy", "kept", "nearest")
    on = set(data.keys)
    shown = [p for p in data.sparse if p.trial in on]
    pixels = _pixels([(p.x, p.y) for p in shown], frame=data.coords) if shown else []
    return [{**{name: _clean(getattr(p, name)) for name in fields}, "px": px, "py": py}
            for p, (px, py) in zip(shown, pixels, strict=True)]  # fmt: skip


def _template() -> str:
    return (files("manifold_search.study") / "explore.html").read_text(encoding="utf-8")


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
        + (f"; best trial #{best.number}: {number(best.value, significant=6)}" if best else "")
    )
    explain = (
        "Each point is a trained network, placed by PHATE on the distances between the "
        "networks' diffusion operators on the study's fixed probe set: networks that arrange "
        "the probe inputs alike sit close together. Red stars: the best 3 trials."
    )
    if data.sparse:
        explain += (
            " Hollow diamonds: sparse networks of the refine stage (refine.md), each joined to its "
            "dense original and placed among the dense networks by their network distances "
            "(the layout is not refitted; they are not trials)."
        )
    return (
        _template().replace("__TITLE__", html.escape(f"Network manifold: {study.study_name}"))
        .replace("__SUBTITLE__", html.escape(subtitle))
        .replace("__EXPLAIN__", html.escape(explain))
        .replace("__DATA__", doc)
    )


def write_explore(study: optuna.Study, path: str | Path, data: StudyData | None = None) -> Path:
    """Write the page for ``study`` to ``path``; return the path."""
    data = data if data is not None else collect(study)
    if len(data.keys) < 1:
        raise ReportError(
            f"study {study.study_name!r} has no recorded network to show "
            f"({'; '.join(data.notes) or 'no COMPLETE trial'})"
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(build_html(data), encoding="utf-8")
    return path


__all__ = ["best_labels", "build_html", "page_data", "sparse_data", "write_explore"]
