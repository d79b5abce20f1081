"""What to run: a study config with the command line's overrides applied."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from manifold_search.samplers import SamplerError, canonical_name, sampler_label
from manifold_search.study.config import (
    MAX_TRIALS,
    ConfigError,
    PrunerSection,
    SamplerSection,
    StudyConfig,
    build_section_sampler,
    pruner_section,
    validate_storage_url,
)
from manifold_search.study.storage import HEARTBEAT_SECONDS, RunError, storage_file


@dataclass(frozen=True)
class StudyPlan:
    """A config with the command line's overrides applied: everything a worker needs."""

    config: StudyConfig
    study_name: str
    storage_url: str
    sampler: SamplerSection
    seed: int
    n_trials: int
    workers: int = 1
    pruner: PrunerSection = field(default_factory=PrunerSection)
    timeout: float | None = None  # seconds after which this run starts no new trial

    @property
    def output_dir(self) -> Path:
        return self.config.output_dir

    @property
    def heartbeat(self) -> int:
        """Seconds between heartbeats of a running trial on a database server."""
        return self.config.study.heartbeat or HEARTBEAT_SECONDS

    @property
    def is_main(self) -> bool:
        """True for the config's own study (its own sampler), False for a comparison run."""
        return self.study_name == self.config.study.name

    def run_attr(self) -> dict[str, Any]:
        """What is stored on the study (JSON): checked when the study is resumed."""
        space = self.config.space
        return {
            "space": {"name": space.name, "options": dict(space.options)},
            "sampler": {"name": self.sampler.name, "options": dict(self.sampler.options)},
            "seed": self.seed,
            "n_trials": self.n_trials,
            "direction": self.config.study.direction,
            "config": self.config.path,
            "objective": objective_label(space.name),
        }


def objective_label(space_name: str) -> str:
    """What the objective value is: validation accuracy for spaces built on
    :class:`search_spaces.base.SearchSpace` (the bundled ones and their subclasses)."""
    from search_spaces import SearchSpace, space_target

    try:
        target = space_target(space_name)
    except ValueError:
        return "objective"
    is_space = isinstance(target, SearchSpace) or (
        isinstance(target, type) and issubclass(target, SearchSpace)
    )
    return "validation accuracy" if is_space else "objective"


def _check_overrides(config: StudyConfig, trials: int | None, storage: str | None,
                     seed: int | None, workers: int) -> str:  # fmt: skip
    """The storage URL after the overrides; RunError on bad values."""
    if trials is not None and trials < 1:
        raise RunError(f"--trials must be at least 1, got {trials}")
    if trials is not None and trials > MAX_TRIALS:
        raise RunError(f"--trials {trials} is above the limit of {MAX_TRIALS}; split the work "
                       "into several studies")
    if workers < 1:
        raise RunError(f"--workers must be at least 1, got {workers}")
    if seed is not None and seed < 0:
        raise RunError(f"--seed must be non-negative, got {seed}")
    if storage is not None:
        try:
            validate_storage_url(storage, "--storage")
        except ConfigError as exc:
            raise RunError(str(exc)) from None
    url = config.storage_url(storage)
    if config.study.heartbeat is not None and storage_file(url) is not None:
        raise RunError(
            f"{config.path}: [study] heartbeat applies to database servers, and {url!r} is a "
            "file (a dead worker's trial there is failed when the run resumes); remove the key"
        )
    records = config.space.options.get("record", True) is not False
    if records and storage_file(url) is None and config.artifact_location() is None:
        raise RunError(
            f"storage {url!r} is a database server and the networks need an artifact store "
            "every worker can reach; set [study] artifacts = \"/shared/folder\" or "
            "\"s3://bucket/prefix\" (or record = false in [space]: no manifold)"
        )
    return url


def make_plan(
    config: StudyConfig,
    *,
    trials: int | None = None,
    storage: str | None = None,
    sampler: str | None = None,
    seed: int | None = None,
    workers: int = 1,
    pruner: str | None = None,
    timeout: float | None = None,
) -> StudyPlan:
    """Apply command-line overrides to ``config``.

    A ``sampler`` other than the config's gets its own study, ``<name>-<sampler>``, in
    the same storage (the config's ``[sampler]`` options do not apply to it): that is
    how a random-search baseline or a TPE comparison is run beside the main study.
    """
    url = _check_overrides(config, trials, storage, seed, workers)
    if timeout is not None and not (timeout > 0 and math.isfinite(timeout)):
        raise RunError(f"--timeout must be a positive number of seconds, got {timeout}")
    section = config.sampler
    name = config.study.name
    if sampler is not None:
        try:
            sampler = canonical_name(sampler)
        except SamplerError as exc:
            raise RunError(f"--sampler: {exc}") from None
    if sampler is not None and sampler != config.sampler.name:
        section = SamplerSection(name=sampler, options={})
        name = f"{config.study.name}-{sampler_label(sampler)}"
    try:
        build_section_sampler(section, seed=0, path="--sampler" if section is not config.sampler
                              else config.path)  # fmt: skip
    except ConfigError as exc:
        raise RunError(str(exc).replace("--sampler: [sampler] ", "--sampler: ")) from None
    return StudyPlan(
        config=config,
        study_name=name,
        storage_url=url,
        sampler=section,
        seed=config.study.seed if seed is None else seed,
        n_trials=config.study.n_trials if trials is None else trials,
        workers=workers,
        pruner=_pruner(config, pruner),
        timeout=config.study.timeout if timeout is None else timeout,
    )


def _pruner(config: StudyConfig, name: str | None) -> PrunerSection:
    """``--pruner NAME`` (Optuna's defaults for its options) or the config's ``[pruner]``."""
    if name is None:
        return config.pruner
    try:
        return pruner_section({"name": name}, "--pruner")
    except ConfigError as exc:
        raise RunError(str(exc)) from None
