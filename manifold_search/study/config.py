"""Study configs: a small, strict schema for the TOML files in ``studies/``.

A study config has three tables::

    [study]
    name = "quickstart"          # Optuna study name (required)
    n_trials = 30                # target number of finished trials (required)
    direction = "maximize"       # or "minimize"
    seed = 0                     # the sampler's seed
    output_dir = "../runs/quickstart"   # relative to this file; default: runs/<name>
    # storage = "sqlite:///../runs/quickstart/study.db"   # default: <output_dir>/study.db
    # heartbeat = 20             # seconds; database servers only (a dead worker's trial
    #                            # is failed after 3 heartbeats and retried once)

    [space]
    name = "mnist1d"             # a bundled search space or "package.module:object"
    epochs = 10                  # every other key is a constructor option of the space
    probe_size = 256

    [sampler]
    name = "manifold"            # manifold, tpe, gp, random, ... or "package.module:Class"
    n_startup_trials = 10        # every other key is a keyword argument of the sampler

Every key is checked: an unknown key, a value of the wrong type, an unknown search
space or sampler, or a storage that is not a database URL raises
:class:`ConfigError` whose message is one line naming the file, the key and the fix.

Relative paths in a config (``output_dir``, a SQLite storage, a space option whose
name ends in ``_dir``, ``_path`` or ``_file`` such as ``data_dir``) are relative to
the config file's folder, so a study is the same study from whatever directory it
is run; the default ``output_dir`` is ``runs/<name>`` beside the config. Paths given
on the command line (``--storage``) are relative to the working directory.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from manifold_search.registry import SPACES, did_you_mean
from manifold_search.samplers import SamplerError, build_sampler, canonical_name
from manifold_search.study.storage import StudyError
from search_spaces import get_space, option_types, space_parameters, space_target

DIRECTIONS = ("maximize", "minimize")
DEFAULT_SAMPLER = "manifold"
#: Database URLs Optuna's RDBStorage can open (SQLAlchemy dialect[+driver]://...).
_URL_RE = re.compile(r"^(sqlite|postgresql|postgres|mysql|mariadb|oracle|mssql)(\+\w+)?://")


class ConfigError(StudyError):
    """A bad study config; the message is one line: file, key, problem and fix."""


@dataclass(frozen=True)
class StudySection:
    """The ``[study]`` table."""

    name: str
    n_trials: int
    direction: str = "maximize"
    seed: int = 0
    storage: str | None = None
    output_dir: str | None = None
    artifacts: str | None = None
    artifacts_endpoint: str | None = None
    timeout: float | None = None
    heartbeat: int | None = None  # seconds between a running trial's heartbeats (servers only)


@dataclass(frozen=True)
class SpaceSection:
    """The ``[space]`` table: a search space by name and its constructor options."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SamplerSection:
    """The ``[sampler]`` table: a sampler by name and its keyword arguments."""

    name: str = DEFAULT_SAMPLER
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PrunerSection:
    """The ``[pruner]`` table: an Optuna pruner by name and its keyword arguments."""

    name: str = "none"
    options: dict[str, Any] = field(default_factory=dict)

    def build(self) -> Any:
        """The Optuna pruner (``none`` is ``NopPruner``: every trial trains its full budget)."""
        import optuna

        return getattr(optuna.pruners, PRUNERS[self.name])(**self.options)


#: Pruner names of ``[pruner] name`` and ``--pruner``, and Optuna's class for each.
PRUNERS = {"none": "NopPruner", "median": "MedianPruner",
           "successive-halving": "SuccessiveHalvingPruner", "hyperband": "HyperbandPruner"}


@dataclass(frozen=True)
class StudyConfig:
    """A validated study config."""

    study: StudySection
    space: SpaceSection
    sampler: SamplerSection = field(default_factory=SamplerSection)
    pruner: PrunerSection = field(default_factory=PrunerSection)
    refine: Any = None  # RefineSettings of a [refine] table: sparsify the winners after the run
    path: str = "<config>"
    base_dir: Path = field(default_factory=Path.cwd)  # relative paths start here

    @property
    def output_dir(self) -> Path:
        """Where the study's storage (by default), report and plots go (absolute)."""
        return resolve_path(self.study.output_dir or os.path.join("runs", self.study.name),
                            self.base_dir)  # fmt: skip

    def storage_url(self, override: str | None = None) -> str:
        """The storage URL: ``override`` (relative to the working directory), else
        ``[study] storage`` (relative to the config's folder), else a SQLite file
        ``<output_dir>/study.db``; SQLite paths made absolute, so that every process
        finds the same file."""
        if override:
            return absolute_sqlite_url(override, Path.cwd())
        if self.study.storage:
            return absolute_sqlite_url(self.study.storage, self.base_dir)
        return "sqlite:///" + str(self.output_dir / "study.db")

    def artifact_location(self) -> str | None:
        """``[study] artifacts``: an s3:// URL as given, a folder made absolute against the
        config's folder; None when the study keeps its artifacts beside its storage file."""
        where = self.study.artifacts
        if where is None or where.startswith("s3://"):
            return where
        return str(resolve_path(where.removeprefix("file://"), self.base_dir))


def resolve_path(path: str | os.PathLike[str], base_dir: Path) -> Path:
    """``path`` made absolute against ``base_dir`` (``~`` expanded first)."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else (Path(base_dir) / p).resolve()


def absolute_sqlite_url(url: str, base_dir: Path) -> str:
    """A ``sqlite:///`` or ``journal:///`` URL, or a journal file ``x.log``, made absolute
    against ``base_dir``; others as given. Like SQLite's, ``journal:///rel.log`` is relative
    and ``journal:////abs.log`` absolute; a bare ``x.log`` becomes ``journal:////ABS``."""
    if url.startswith("journal:///"):
        return "journal:///" + str(resolve_path(url[len("journal:///"):], base_dir))
    if "://" not in url and url.endswith(".log"):
        return "journal:///" + str(resolve_path(url, base_dir))
    if not url.startswith("sqlite:///"):
        return url
    return "sqlite:///" + str(resolve_path(url[len("sqlite:///"):], base_dir))


#: Space options that name files or folders (resolved against the config's folder).
PATH_OPTION_SUFFIXES = ("_dir", "_path", "_file")


def _resolve_path_options(options: Mapping[str, Any], base_dir: Path) -> dict[str, Any]:
    """Relative path options of a space made absolute; ``~`` paths are left to the space."""
    out = dict(options)
    for key, value in options.items():
        if (key.endswith(PATH_OPTION_SUFFIXES) and isinstance(value, str) and value
                and not value.startswith("~")):  # fmt: skip
            out[key] = str(resolve_path(value, base_dir))
    return out


# -- field checks ---------------------------------------------------------------------

#: Longest heartbeat interval: beyond an hour a dead worker's trial would wait hours for its retry.
MAX_HEARTBEAT = 3600
_STUDY_FIELDS: dict[str, tuple[tuple[type, ...], str]] = {
    "name": ((str,), 'a string, e.g. name = "my-study"'),
    "n_trials": ((int,), "a positive integer, e.g. n_trials = 50"),
    "direction": ((str,), 'direction = "maximize" or "minimize"'),
    "seed": ((int,), "a non-negative integer, e.g. seed = 0"),
    "storage": ((str,), 'a database URL, e.g. storage = "sqlite:///runs/x/study.db"'),
    "output_dir": ((str,), 'a directory, e.g. output_dir = "runs/my-study"'),
    "artifacts": ((str,), 'a shared folder or an S3 location, e.g. artifacts = '
                  '"/shared/x-artifacts" or "s3://bucket/prefix"'),
    "artifacts_endpoint": ((str,), 'an S3 endpoint URL, e.g. artifacts_endpoint = '
                           '"http://127.0.0.1:9000"'),
    "timeout": ((int, float), "seconds after which no new trial starts, e.g. timeout = 600"),
    "heartbeat": ((int,), f"a whole number of seconds from 1 to {MAX_HEARTBEAT}, e.g. "
                  "heartbeat = 20"),
}
#: More trials than this in one study is a typo, not a plan (the sampler is measured to 2,000).
MAX_TRIALS = 100_000
_REQUIRED_STUDY = ("name", "n_trials")


def _type_name(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "an array", dict: "a table"}.get(type(value), type(value).__name__)  # fmt: skip


def _matches(value: Any, types: tuple[type, ...]) -> bool:
    if isinstance(value, bool):
        return bool in types
    if isinstance(value, int) and float in types:
        return True
    return isinstance(value, types)


def _unknown_key(where: str, key: str, known: list[str], path: str) -> ConfigError:
    hint = did_you_mean(key, known)
    return ConfigError(
        f"{path}: {where} {key}: unknown key; {hint}known keys: {', '.join(known)}"
    )


def validate_storage_url(url: str, where: str = "storage") -> str:
    """Check that ``url`` is a database URL Optuna can open; return it."""
    if isinstance(url, str) and (url.startswith("journal:///") or
                                 ("://" not in url and url.endswith(".log"))):
        return url
    if not isinstance(url, str) or not _URL_RE.match(url):
        raise ConfigError(
            f"{where}: {url!r} is not a database URL; write sqlite:///path/to/study.db "
            "(a file), journal:///path/to/study.log (Optuna's journal file) or e.g. "
            "postgresql://user@host/db"
        )
    if url.startswith("sqlite:") and not url.startswith("sqlite:///"):
        raise ConfigError(
            f"{where}: {url!r} names no file; write sqlite:///relative/path.db or "
            "sqlite:////absolute/path.db"
        )
    if url.startswith("sqlite:///") and url.rstrip("/") == "sqlite:":
        raise ConfigError(f"{where}: {url!r} names no file; write sqlite:///path/to/study.db")
    return url


def _study_section(table: Mapping[str, Any], path: str) -> StudySection:
    for key in table:
        if key not in _STUDY_FIELDS:
            raise _unknown_key("[study]", key, list(_STUDY_FIELDS), path)
    for key in _REQUIRED_STUDY:
        if key not in table:
            raise ConfigError(f"{path}: [study] {key} is missing; add {_STUDY_FIELDS[key][1]}")
    for key, value in table.items():
        types, fix = _STUDY_FIELDS[key]
        if not _matches(value, types):
            raise ConfigError(f"{path}: [study] {key} must be {fix}, not {_type_name(value)}")
    name = table["name"].strip()
    if not name or not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$", name):
        raise ConfigError(
            f"{path}: [study] name {table['name']!r} must start with a letter or digit and "
            "use only letters, digits and _.+-"
        )
    if table["n_trials"] < 1:
        raise ConfigError(f"{path}: [study] n_trials must be at least 1, got {table['n_trials']}")
    if table["n_trials"] > MAX_TRIALS:
        raise ConfigError(f"{path}: [study] n_trials {table['n_trials']} is above the limit of "
                          f"{MAX_TRIALS}; split the work into several studies")
    direction = table.get("direction", "maximize")
    if direction not in DIRECTIONS:
        raise ConfigError(
            f"{path}: [study] direction must be \"maximize\" or \"minimize\", got {direction!r}"
        )
    seed = table.get("seed", 0)
    if seed < 0:
        raise ConfigError(f"{path}: [study] seed must be non-negative, got {seed}")
    timeout = table.get("timeout")
    if timeout is not None and not (timeout > 0 and math.isfinite(timeout)):
        raise ConfigError(f"{path}: [study] timeout must be a positive number of seconds, "
                          f"got {timeout}; or leave it out for no time limit")
    heartbeat = table.get("heartbeat")
    if heartbeat is not None and not 1 <= heartbeat <= MAX_HEARTBEAT:
        raise ConfigError(f"{path}: [study] heartbeat must be {_STUDY_FIELDS['heartbeat'][1]}, "
                          f"got {heartbeat}")
    storage = table.get("storage")
    if storage is not None:
        try:
            validate_storage_url(storage, "[study] storage")
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None
    return StudySection(
        name=name, n_trials=table["n_trials"], direction=direction, seed=seed,
        storage=storage, output_dir=table.get("output_dir"), artifacts=_artifacts(table, path),
        artifacts_endpoint=table.get("artifacts_endpoint"), heartbeat=heartbeat,
        timeout=None if timeout is None else float(timeout),
    )  # fmt: skip


def _artifacts(table: Mapping[str, Any], path: str) -> str | None:
    """``[study] artifacts`` checked for its form (a folder or s3://BUCKET/PREFIX)."""
    where = table.get("artifacts")
    if where is None:
        return None
    if "://" in where and not where.startswith(("s3://", "file://")):
        raise ConfigError(f"{path}: [study] artifacts {where!r} is neither a folder nor an "
                          "s3://BUCKET/PREFIX location; give one of those")
    if where.startswith("s3://") and not where[len("s3://"):].split("/")[0]:
        raise ConfigError(f"{path}: [study] artifacts {where!r} names no bucket; write "
                          "s3://BUCKET/PREFIX")
    return where


# -- search spaces --------------------------------------------------------------------


def space_section(name: str, options: Mapping[str, Any], path: str = "<config>") -> SpaceSection:
    """Check a search space name and its options (as ``[space]`` of a config would)."""
    return _space_section({"name": name, **options}, path)


def _space_section(table: Mapping[str, Any], path: str,
                   base_dir: Path | None = None) -> SpaceSection:  # fmt: skip
    if "name" not in table:
        raise ConfigError(
            f'{path}: [space] name is missing; add e.g. name = "mnist1d" (a bundled space: '
            "mnist1d, digits, images) or a package.module:object"
        )
    name = table["name"]
    if not isinstance(name, str):
        raise ConfigError(f"{path}: [space] name must be a string, not {_type_name(name)}")
    options = {k: v for k, v in table.items() if k != "name"}
    try:
        target = space_target(name)
    except ValueError as exc:
        raise ConfigError(f"{path}: [space] name: {exc}") from None
    name = SPACES.canonical(name) or name
    params = space_parameters(target)
    for key, value in options.items():
        if key not in params:
            if not isinstance(target, type):
                raise ConfigError(
                    f"{path}: [space] {key}: {name} is a ready object and takes no options; "
                    "remove the key or point name at a class"
                )
            raise _unknown_key(f"[space] ({name})", key, list(params), path)
        types = option_types(params[key])
        if types is not None and not _matches(value, types):
            wanted = " or ".join(_type_name(t()) for t in types)
            raise ConfigError(
                f"{path}: [space] {key} must be {wanted}, not {_type_name(value)} ({value!r})"
            )
    section = SpaceSection(name=name, options=_resolve_path_options(options, base_dir or Path.cwd()))
    build_space(section, path)  # the constructor checks values (cheap: no data is loaded)
    return section


def build_space(section: SpaceSection, path: str = "<config>") -> Any:
    """The search space of a config section (its options checked by the constructor)."""
    try:
        return get_space(section.name, **section.options)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: [space] {section.name}: {exc}") from None


# -- samplers -------------------------------------------------------------------------


def _sampler_section(table: Mapping[str, Any], path: str) -> SamplerSection:
    name = table.get("name", DEFAULT_SAMPLER)
    if not isinstance(name, str):
        raise ConfigError(f"{path}: [sampler] name must be a string, not {_type_name(name)}")
    try:
        name = canonical_name(name)
    except SamplerError as exc:
        raise ConfigError(f"{path}: [sampler] name: {exc}") from None
    options = {k: v for k, v in table.items() if k != "name"}
    section = SamplerSection(name=name, options=options)
    build_section_sampler(section, seed=0, path=path)  # fails early on bad names or options
    return section


def build_section_sampler(section: SamplerSection, seed: int, path: str = "<config>") -> Any:
    """A fresh sampler of a ``[sampler]`` section seeded with ``seed``."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ExperimentalWarning of some samplers
            return build_sampler(section.name, seed, section.options)
    except SamplerError as exc:
        raise ConfigError(f"{path}: [sampler] {exc}") from None
    except (TypeError, ValueError, ImportError) as exc:
        keys = ", ".join(section.options) or "(none)"
        raise ConfigError(
            f"{path}: [sampler] {section.name} rejected its options {keys}: "
            f"{str(exc).splitlines()[0]}; fix or remove the key"
        ) from None


# -- loading --------------------------------------------------------------------------

_SECTIONS = ("study", "space", "sampler", "pruner", "refine")


def pruner_section(table: Mapping[str, Any], path: str = "<config>") -> PrunerSection:
    """Check ``[pruner]`` (or, with ``path="--pruner"``, the flag): a known name, and options
    its class accepts. The errors name where the pruner came from: ``FILE: [pruner] name``
    or ``--pruner``."""
    options = {k: v for k, v in table.items() if k != "name"}
    name = str(table.get("name", "none")).lower()
    flag = path.startswith("--")
    if name not in PRUNERS:
        raise ConfigError(f"{path if flag else path + ': [pruner] name'} {name!r}: unknown pruner; "
                          f"{did_you_mean(name, list(PRUNERS))}choose one of {', '.join(PRUNERS)}")
    section = PrunerSection(name, options)
    try:
        section.build()
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path if flag else path + ': [pruner]'} {name} rejected its options {sorted(options)}: "
                          f"{str(exc).splitlines()[0]}; fix or remove the key") from None
    return section


def _refine_section(table: Mapping[str, Any], path: str) -> Any:
    from manifold_search.refine.settings import parse_refine

    try:
        return parse_refine(table)
    except ValueError as exc:
        raise ConfigError(f"{path}: {str(exc).splitlines()[0]}") from None


def parse_config(data: Mapping[str, Any], path: str = "<config>",
                 base_dir: Path | None = None) -> StudyConfig:  # fmt: skip
    """Validate a parsed TOML document and return the config; relative paths in it are
    relative to ``base_dir`` (default: the working directory)."""
    base_dir = Path(base_dir).resolve() if base_dir is not None else Path.cwd()
    for key, value in data.items():
        if key not in _SECTIONS:
            raise _unknown_key("table", f"[{key}]" if isinstance(value, dict) else key,
                               [f"[{s}]" for s in _SECTIONS], path)  # fmt: skip
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: {key} must be a table [{key}], not {_type_name(value)}")
    for key in ("study", "space"):
        if key not in data:
            raise ConfigError(f"{path}: the [{key}] table is missing; see studies/quickstart.toml")
    return StudyConfig(
        study=_study_section(data["study"], path),
        space=_space_section(data["space"], path, base_dir),
        sampler=_sampler_section(data.get("sampler", {}), path),
        pruner=pruner_section(data.get("pruner", {}), path),
        refine=_refine_section(data["refine"], path) if "refine" in data else None,
        path=path,
        base_dir=base_dir,
    )


def load_config(path: str | os.PathLike[str]) -> StudyConfig:
    """Read and validate a study config file."""
    path = str(path)
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file; give the path of a study config, e.g. "
                          "studies/quickstart.toml") from None  # fmt: skip
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory; give a study config file (.toml)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_config(data, path, base_dir=Path(path).resolve().parent)


__all__ = [
    "PRUNERS",
    "ConfigError",
    "PrunerSection",
    "SamplerSection",
    "SpaceSection",
    "StudyConfig",
    "StudySection",
    "build_section_sampler",
    "build_space",
    "load_config",
    "parse_config",
    "space_section",
    "validate_storage_url",
]
