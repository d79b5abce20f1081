"""A trial of a study as a folder a user can load, and as a ready ``nn.Module``.

The folder holds everything needed to rebuild the network without the study:
``config.json`` and ``config.toml`` (the search space by name and options, the
trial's Optuna parameters and the build/train configuration, floats at full
precision), ``weights.safetensors`` (state dict, masks of a sparse network) and
``README.md``, a short model card. :func:`load_exported` reads it back.

When a trial's weights were not kept (``keep_weights`` off, or the trial left
the top K), the configuration is trained again from its seed; on the CPU that
gives the same network bit for bit, and the validation accuracy is checked
against the recorded one (a mismatch is reported, never hidden).
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
import torch
from optuna.trial import FrozenTrial, TrialState

from manifold_search._attrs import RUN, read_attr
from manifold_search.refine.masks import sparsity_of
from manifold_search.refine.weights import load_into, load_state, load_trial_weights, save_state

CONFIG_JSON, CONFIG_TOML, WEIGHTS_FILE, CARD = "config.json", "config.toml", "weights.safetensors", "README.md"


@dataclass
class TrialModel:
    """A study trial's network, built with its weights, and where the weights came from."""

    model: torch.nn.Module
    space: Any
    config: dict[str, Any]
    trial: FrozenTrial
    retrained: bool
    metrics: dict[str, Any] = field(default_factory=dict)
    masks: dict[str, torch.Tensor] = field(default_factory=dict)

    @property
    def source(self) -> str:
        if not self.retrained:
            return "kept weights (study artifact store)"
        return (f"retrained from the trial's seed (weights were not kept); validation accuracy "
                f"{self.metrics['val_accuracy']:.6g}, recorded {self.trial.value:.6g}")  # fmt: skip


def study_space(study: optuna.Study) -> Any:
    """The search space a study was run with (from the runner's record on the study)."""
    from manifold_search.study.config import build_space, space_section

    run = read_attr(study.user_attrs, RUN)
    if not isinstance(run, dict) or "space" not in run:
        raise ValueError(
            f"study {study.study_name!r} does not record its search space (not run by "
            "'manifold-search run'); pass space=get_space(NAME, **options)"
        )
    section = space_section(run["space"]["name"], run["space"].get("options", {}), "study record")
    return build_space(section, "study record")


def space_record(study: optuna.Study, space: Any) -> dict[str, Any]:
    """``{"name", "options"}`` that rebuild ``space`` with :func:`search_spaces.get_space`."""
    run = read_attr(study.user_attrs, RUN)
    if isinstance(run, dict) and "space" in run:
        return {"name": run["space"]["name"], "options": dict(run["space"].get("options", {}))}
    options = {k: getattr(space, k) for k in ("epochs", "probe_size", "seed") if hasattr(space, k)}
    return {"name": getattr(space, "name", type(space).__name__), "options": options}


def trial_config(space: Any, trial: FrozenTrial) -> dict[str, Any]:
    """The build/train configuration of a finished trial (its parameters replayed)."""
    return space.suggest(optuna.trial.FixedTrial(trial.params, number=trial.number))


def _pick(study: optuna.Study, trial: FrozenTrial | int | None) -> FrozenTrial:
    if trial is None:
        try:
            return study.best_trial
        except ValueError:
            raise ValueError(f"study {study.study_name!r} has no finished trial to export") from None
    if isinstance(trial, FrozenTrial):
        return trial
    numbers = {t.number: t for t in study.get_trials(deepcopy=False)}
    if trial not in numbers or numbers[trial].state != TrialState.COMPLETE:
        done = [n for n, t in numbers.items() if t.state == TrialState.COMPLETE]
        raise ValueError(f"trial {trial} is not a COMPLETE trial of study {study.study_name!r}; "
                         f"choose one of {done[:20]}{' ...' if len(done) > 20 else ''}")  # fmt: skip
    return numbers[trial]


def trial_model(study: optuna.Study, trial: FrozenTrial | int | None = None, space: Any | None = None,
                artifact_store: Any | None = None, log=None) -> TrialModel:  # fmt: skip
    """The trained network of ``trial`` (default: the best), weights loaded, in eval mode.

    Kept weights are loaded from the study's artifact store; otherwise the
    configuration is retrained from the space's seed and ``log`` (default: a
    warning) says so, with the retrained and the recorded validation accuracy.
    """
    trial = _pick(study, trial)
    space = space if space is not None else study_space(study)
    config = trial_config(space, trial)
    model = space.seeded_build(config)
    try:
        state, masks, _ = load_trial_weights(study, trial, artifact_store)
    except KeyError as why:
        metrics = space.train_and_evaluate(model, config)
        result = TrialModel(model.cpu().eval(), space, config, trial, True, metrics)
        message = f"trial {trial.number}: {why.args[0]}; {result.source}"
        if not math.isclose(metrics["val_accuracy"], trial.value, abs_tol=1e-9):
            message += " (MISMATCH: a GPU run or a max_seconds cap is not reproducible)"
        (log or (lambda m: warnings.warn(m, stacklevel=3)))(message)
        return result
    load_into(model, state, masks)
    return TrialModel(model.eval(), space, config, trial, False, masks=masks)


# -- the folder -------------------------------------------------------------------------


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return ("-inf" if value < 0 else "inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def to_toml(document: dict[str, dict[str, Any]]) -> str:
    """A two-level document (tables of scalars/lists/inline tables) as TOML text."""
    lines: list[str] = []
    for table, values in document.items():
        lines.append(f"[{table}]")
        lines += [f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in values.items()]
        lines.append("")
    return "\n".join(lines)


def _card(record: dict[str, Any], folder: Path) -> str:
    trial, metrics = record["trial"], record["metrics"]
    test = metrics.get("test_accuracy")
    return "\n".join([
        f"# {record['space']['name']} trial {trial['number']} ({trial['study']})", "",
        f"- objective ({trial['objective']}): {trial['value']!r}",
        f"- test accuracy: {test!r}" if test is not None else "- test accuracy: not recorded",
        f"- parameters: {metrics['n_params']:,} ({metrics['n_prunable']:,} prunable weights)",
        f"- sparsity of the prunable weights: {metrics['sparsity']:.4f}",
        f"- weights: {record['source']}", "",
        "Load it (three lines of Python):", "", "```python",
        "from manifold_search.refine import load_exported",
        f"model = load_exported({str(folder)!r})  # nn.Module in eval mode",
        "logits = model(inputs)",
        "```", "",
        f"`{CONFIG_TOML}` / `{CONFIG_JSON}`: the search space and its options, the trial's "
        "parameters and the build/train configuration, at full precision. "
        f"`{WEIGHTS_FILE}`: safetensors (no pickle).", "",
    ])  # fmt: skip


def write_folder(folder: str | Path, built: TrialModel, study_name: str, space: dict[str, Any],
                 objective: str = "objective") -> Path:  # fmt: skip
    """Write ``built`` (a :class:`TrialModel`) to ``folder``; returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    trial = built.trial
    sparsity, n_prunable = sparsity_of(built.model)
    test = built.metrics.get("test_accuracy", trial.user_attrs.get("test_accuracy"))
    record = {
        "space": space,
        "trial": {"study": study_name, "number": trial.number, "value": trial.value,
                  "objective": objective},
        "params": dict(trial.params),
        "config": built.config,
        "metrics": {"test_accuracy": test, "n_params": int(sum(p.numel() for p in built.model.parameters())),
                    "n_prunable": n_prunable, "sparsity": sparsity},
        "source": built.source,
    }  # fmt: skip
    (folder / CONFIG_JSON).write_text(json.dumps(record, indent=2) + "\n")
    toml = {"space": {"name": space["name"]}, "space.options": space["options"], "trial": record["trial"],
            "params": record["params"], "config": record["config"],
            "metrics": {k: v for k, v in record["metrics"].items() if v is not None},
            "weights": {"source": record["source"], "file": WEIGHTS_FILE}}  # fmt: skip
    (folder / CONFIG_TOML).write_text(to_toml(toml))
    save_state(folder / WEIGHTS_FILE, built.model, built.masks or None, {"config": built.config})
    (folder / CARD).write_text(_card(record, folder))
    return folder


def export_trial(study: optuna.Study, out: str | Path, trial: FrozenTrial | int | None = None,
                 space: Any | None = None, artifact_store: Any | None = None, log=None) -> TrialModel:  # fmt: skip
    """Export ``trial`` (default: the best) to the folder ``out``; returns the built network.

    The returned :class:`TrialModel` holds the ``nn.Module`` with its weights
    loaded (``.model``), its configuration and whether it was retrained.
    """
    built = trial_model(study, trial, space, artifact_store, log)
    run = read_attr(study.user_attrs, RUN)
    objective = run.get("objective", "objective") if isinstance(run, dict) else "objective"
    write_folder(out, built, study.study_name, space_record(study, built.space), objective)
    return built


def load_exported(folder: str | Path) -> torch.nn.Module:
    """The network of an exported folder, weights (and masks) loaded, in eval mode."""
    from search_spaces import get_space

    folder = Path(folder)
    path = folder / CONFIG_JSON
    if not path.is_file():
        raise ValueError(f"{folder}: no {CONFIG_JSON}; give a folder written by 'manifold-search export'")
    record = json.loads(path.read_text())
    space = get_space(record["space"]["name"], **record["space"]["options"])
    model = space.seeded_build(record["config"])
    state, masks, _ = load_state(folder / WEIGHTS_FILE)
    return load_into(model, state, masks).eval()
