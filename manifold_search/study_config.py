"""Study configs: a small, strict schema for the TOML files in ``studies/``.

A study config has three tables::

    [study]
    name = "quickstart"          # Optuna study name (required)
    n_trials = 30                # target number of finished trials (required)
    direction = "maximize"       # or "minimize"
    seed = 0                     # the sampler's seed
    output_dir = "runs/quickstart"   # default: runs/<name>
    # storage = "sqlite:///runs/quickstart/study.db"   # default: <output_dir>/study.db

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
Relative paths (``output_dir``, a SQLite storage, a space's ``data_dir``) are
relative to the working directory, as for any command-line tool.
"""

from __future__ import annotations

import difflib
import inspect
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    import tomllib
except ImportError:  # Python 3.10
    try:
        import tomli as tomllib  # type: ignore[no-redef]
    except ImportError:  # pragma: no cover - depends on the interpreter
        tomllib = None  # type: ignore[assignment]

DIRECTIONS = ("maximize", "minimize")
DEFAULT_SAMPLER = "manifold"
#: Database URLs Optuna's RDBStorage can open (SQLAlchemy dialect[+driver]://...).
_URL_RE = re.compile(r"^(sqlite|postgresql|postgres|mysql|mariadb|oracle|mssql)(\+\w+)?://")


class ConfigError(ValueError):
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
class StudyConfig:
    """A validated study config."""

    study: StudySection
    space: SpaceSection
    sampler: SamplerSection = field(default_factory=SamplerSection)
    path: str = "<config>"

    @property
    def output_dir(self) -> Path:
        """Where the study's storage (by default), report and plots go."""
        return Path(self.study.output_dir or os.path.join("runs", self.study.name))

    def storage_url(self, override: str | None = None) -> str:
        """The storage URL: ``override``, else ``[study] storage``, else a SQLite file
        ``<output_dir>/study.db`` (absolute, so that every process finds the same file)."""
        url = override or self.study.storage
        if url:
            return url
        return "sqlite:///" + str((self.output_dir / "study.db").resolve())


# -- field checks ---------------------------------------------------------------------

_STUDY_FIELDS: dict[str, tuple[tuple[type, ...], str]] = {
    "name": ((str,), 'a string, e.g. name = "my-study"'),
    "n_trials": ((int,), "a positive integer, e.g. n_trials = 50"),
    "direction": ((str,), 'direction = "maximize" or "minimize"'),
    "seed": ((int,), "a non-negative integer, e.g. seed = 0"),
    "storage": ((str,), 'a database URL, e.g. storage = "sqlite:///runs/x/study.db"'),
    "output_dir": ((str,), 'a directory, e.g. output_dir = "runs/my-study"'),
}
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
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    return ConfigError(
        f"{path}: {where} {key}: unknown key; {hint}known keys: {', '.join(known)}"
    )


def validate_storage_url(url: str, where: str = "storage") -> str:
    """Check that ``url`` is a database URL Optuna can open; return it."""
    if not isinstance(url, str) or not _URL_RE.match(url):
        raise ConfigError(
            f"{where}: {url!r} is not a database URL; write sqlite:///path/to/study.db "
            "(a file) or e.g. postgresql://user@host/db"
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
    direction = table.get("direction", "maximize")
    if direction not in DIRECTIONS:
        raise ConfigError(
            f"{path}: [study] direction must be \"maximize\" or \"minimize\", got {direction!r}"
        )
    seed = table.get("seed", 0)
    if seed < 0:
        raise ConfigError(f"{path}: [study] seed must be non-negative, got {seed}")
    storage = table.get("storage")
    if storage is not None:
        try:
            validate_storage_url(storage, "[study] storage")
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None
    return StudySection(
        name=name, n_trials=table["n_trials"], direction=direction, seed=seed,
        storage=storage, output_dir=table.get("output_dir"),
    )  # fmt: skip


# -- search spaces --------------------------------------------------------------------


def space_target(name: str) -> Any:
    """The class (or ready instance) a space name refers to, without building it."""
    import search_spaces

    registry = search_spaces._REGISTRY
    if name in registry:
        return search_spaces._import(registry[name])
    if ":" in name:
        return search_spaces._import(name)
    raise ValueError(
        f"unknown search space {name!r}; choose one of {', '.join(search_spaces.available())} "
        "or give package.module:object"
    )


def space_parameters(target: Any) -> dict[str, inspect.Parameter]:
    """Keyword options a space class accepts: its ``__init__`` and those it passes on
    through ``**kwargs`` to its base classes. A ready instance accepts none."""
    if not isinstance(target, type):
        return {}
    params: dict[str, inspect.Parameter] = {}
    for cls in target.__mro__:
        if cls is object:
            break
        init = cls.__dict__.get("__init__")
        if init is None:
            continue
        try:
            signature = inspect.signature(init)
        except (TypeError, ValueError):
            break
        passes_on = False
        for p in list(signature.parameters.values())[1:]:
            if p.kind is inspect.Parameter.VAR_KEYWORD:
                passes_on = True
            elif p.kind is not inspect.Parameter.VAR_POSITIONAL:
                params.setdefault(p.name, p)
        if not passes_on:
            break
    return params


_ANNOTATION_TYPES = {"int": (int,), "float": (float,), "str": (str,), "bool": (bool,),
                     "dict": (dict,), "list": (list,), "None": ()}  # fmt: skip


def _expected_types(p: inspect.Parameter) -> tuple[type, ...] | None:
    """Accepted TOML value types of a constructor parameter, or None when unknown."""
    annotation = p.annotation
    if isinstance(annotation, str):
        parts = [a.strip() for a in annotation.replace("Optional[", "").rstrip("]").split("|")]
        types: tuple[type, ...] = ()
        for part in parts:
            if part not in _ANNOTATION_TYPES:
                return None
            types += _ANNOTATION_TYPES[part]
        return types or None
    if isinstance(annotation, type) and annotation in (int, float, str, bool):
        return (annotation,)
    default = p.default
    if default is inspect.Parameter.empty or default is None:
        return None
    if isinstance(default, bool):
        return (bool,)
    if isinstance(default, int | float | str):
        return (type(default),)
    return None


def space_section(name: str, options: Mapping[str, Any], path: str = "<config>") -> SpaceSection:
    """Check a search space name and its options (as ``[space]`` of a config would)."""
    return _space_section({"name": name, **options}, path)


def _space_section(table: Mapping[str, Any], path: str) -> SpaceSection:
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
    params = space_parameters(target)
    for key, value in options.items():
        if key not in params:
            if not isinstance(target, type):
                raise ConfigError(
                    f"{path}: [space] {key}: {name} is a ready object and takes no options; "
                    "remove the key or point name at a class"
                )
            raise _unknown_key(f"[space] ({name})", key, list(params), path)
        types = _expected_types(params[key])
        if types is not None and not _matches(value, types):
            wanted = " or ".join(_type_name(t()) for t in types)
            raise ConfigError(
                f"{path}: [space] {key} must be {wanted}, not {_type_name(value)} ({value!r})"
            )
    section = SpaceSection(name=name, options=options)
    build_space(section, path)  # the constructor checks values (cheap: no data is loaded)
    return section


def build_space(section: SpaceSection, path: str = "<config>") -> Any:
    """The search space of a config section (its options checked by the constructor)."""
    from search_spaces import get_space

    try:
        return get_space(section.name, **section.options)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: [space] {section.name}: {exc}") from None


# -- samplers -------------------------------------------------------------------------


def _sampler_section(table: Mapping[str, Any], path: str) -> SamplerSection:
    name = table.get("name", DEFAULT_SAMPLER)
    if not isinstance(name, str):
        raise ConfigError(f"{path}: [sampler] name must be a string, not {_type_name(name)}")
    options = {k: v for k, v in table.items() if k != "name"}
    section = SamplerSection(name=name, options=options)
    build_sampler(section, seed=0, path=path)  # fails early on bad names or options
    return section


def sampler_label(name: str) -> str:
    """A short label of a sampler name: ``tpe`` -> ``tpe``, ``pkg.mod:Cls`` -> ``Cls``."""
    return name.rsplit(":", 1)[-1].rsplit(".", 1)[-1] if ":" in name else name


def build_sampler(section: SamplerSection, seed: int, path: str = "<config>") -> Any:
    """A fresh sampler by name (the benchmark harness's factory) seeded with ``seed``."""
    import warnings

    from manifold_search.benchmark.samplers import SAMPLERS, SamplerError, SamplerSpec

    if ":" not in section.name and section.name not in SAMPLERS:
        raise ConfigError(
            f"{path}: [sampler] name: unknown sampler {section.name!r}; choose one of "
            f"{', '.join(SAMPLERS)} or give package.module:Class"
        )
    spec = SamplerSpec(sampler_label(section.name), section.name, dict(section.options))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ExperimentalWarning of some samplers
            return spec.build(seed)
    except SamplerError as exc:
        raise ConfigError(f"{path}: [sampler] {exc}") from None
    except (TypeError, ValueError, ImportError) as exc:
        keys = ", ".join(section.options) or "(none)"
        raise ConfigError(
            f"{path}: [sampler] {section.name} rejected its options {keys}: "
            f"{str(exc).splitlines()[0]}; fix or remove the key"
        ) from None


# -- loading --------------------------------------------------------------------------

_SECTIONS = ("study", "space", "sampler")


def parse_config(data: Mapping[str, Any], path: str = "<config>") -> StudyConfig:
    """Validate a parsed TOML document and return the config."""
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
        space=_space_section(data["space"], path),
        sampler=_sampler_section(data.get("sampler", {}), path),
        path=path,
    )


def load_config(path: str | os.PathLike[str]) -> StudyConfig:
    """Read and validate a study config file."""
    path = str(path)
    if tomllib is None:  # pragma: no cover
        raise ConfigError("reading TOML on Python 3.10 needs the tomli package (pip install tomli)")
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
    return parse_config(data, path)


__all__ = [
    "ConfigError",
    "SamplerSection",
    "SpaceSection",
    "StudyConfig",
    "StudySection",
    "build_sampler",
    "build_space",
    "load_config",
    "parse_config",
    "sampler_label",
    "space_section",
    "validate_storage_url",
]
