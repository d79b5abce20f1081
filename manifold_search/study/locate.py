"""Find a study for ``report`` and ``explore``: from an output directory or a study config.

A config file works from any working directory (its ``output_dir`` is relative to
the config's folder); a config whose study has not run yet says so in one line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna

from manifold_search.study.storage import RUN_FILE, ReportError, open_storage


@dataclass(frozen=True)
class Located:
    """Where a study is: its storage URL, name, output directory, and whether it is the
    config's own study (its report goes to ``report/``) or a comparison run."""

    storage: str
    name: str
    output_dir: Path
    main: bool

    @property
    def report_dir(self) -> Path:
        return report_dir(self.output_dir, self.name, self.main)


def report_dir(output_dir: Path, study_name: str, main: bool) -> Path:
    """``<output_dir>/report`` for the config's study, ``report-<name>`` for others."""
    return Path(output_dir) / ("report" if main else f"report-{study_name}")


def _from_config(path: Path, storage: str | None) -> tuple[Path, str | None, str]:
    """Output directory, storage and study name of a config whose study may not exist yet."""
    from manifold_search.study.config import load_config

    config = load_config(path)
    out = config.output_dir
    if storage is None and not (out / RUN_FILE).is_file():
        if config.study.storage is None and not (out / "study.db").is_file():
            raise ReportError(
                f"{path}: study {config.study.name!r} has not run yet (nothing in {out}); "
                f"run it first: manifold-search run {path}"
            )
        storage = config.storage_url()
    return out, storage, config.study.name


def _read_run_file(path: Path) -> dict[str, Any]:
    run_file = path / RUN_FILE
    if not run_file.is_file():
        return {}
    try:
        return json.loads(run_file.read_text())
    except (OSError, ValueError) as exc:
        raise ReportError(f"{run_file}: unreadable ({exc}); give --storage URL and --study NAME") from None


def _storage_of(path: Path, study_dir: Any, name: str | None, studies: dict[str, str]) -> str:
    if name and name in studies:
        return studies[name]
    if (path / "study.db").is_file():
        return "sqlite:///" + str((path / "study.db").resolve())
    if studies:
        return next(iter(studies.values()))
    raise ReportError(
        f"{study_dir}: no study found (no {RUN_FILE} and no study.db); run "
        "'manifold-search run CONFIG' first, or give --storage URL"
    )


def locate(study_dir: str | Path, study_name: str | None = None,
           storage: str | None = None) -> Located:  # fmt: skip
    """The study of an output directory of ``manifold-search run`` (it holds ``run.json``,
    and by default ``study.db``) or of a study config (``.toml``), from any directory."""
    path = Path(study_dir)
    config_name = None
    if path.suffix == ".toml":
        path, storage, config_name = _from_config(path, storage)
    if not path.is_dir():
        raise ReportError(
            f"{study_dir}: no such directory; give the output directory of "
            "'manifold-search run' (e.g. runs/quickstart) or its config file"
        )
    info = _read_run_file(path)
    studies: dict[str, str] = info.get("studies") or {}
    main_name = info.get("study") or config_name
    name = study_name or main_name
    if storage is None:
        storage = _storage_of(path, study_dir, name, studies)
    names = optuna.get_all_study_names(open_storage(storage, create=False))
    if not names:
        raise ReportError(f"{storage} holds no study yet; run 'manifold-search run CONFIG' first")
    if name is None:
        if len(names) > 1:
            raise ReportError(f"{storage} holds several studies ({', '.join(names)}); choose one with --study")
        name = names[0]
    if name not in names:
        raise ReportError(f"{storage} holds no study {name!r}; choose one of: {', '.join(names)}")
    return Located(storage, name, path, name == (main_name or name))
