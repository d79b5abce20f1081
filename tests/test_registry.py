"""One registry shape for spaces, samplers, problems and commands: lazy, case-insensitive."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

from manifold_search.registry import (
    COMMANDS,
    SAMPLERS,
    SPACES,
    Registry,
    UnknownName,
    import_path_of,
)


def test_every_registered_path_resolves():
    for registry in (SPACES, SAMPLERS, COMMANDS):
        for name, entry in registry.items():
            assert callable(entry.load()), f"{registry.kind} {name}: {entry.path}"
            assert entry.description, f"{registry.kind} {name} has no description"


def test_lookup_ignores_case_and_suggests_the_closest_name():
    assert SAMPLERS.lookup("TPE").name == "tpe" and "Manifold" in SAMPLERS
    assert SPACES.canonical("MNIST1D") == "mnist1d"
    with pytest.raises(UnknownName, match="unknown sampler 'manifolt'; did you mean manifold?"):
        SAMPLERS.lookup("manifolt")
    with pytest.raises(KeyError):  # Mapping semantics for [] and .get
        SAMPLERS["nope"]
    assert SAMPLERS.get("nope") is None and SAMPLERS.get("GP").name == "gp"


def test_entries_are_resolved_only_when_used():
    reg = Registry("thing")
    reg.register("later", "no_such_module_abc:thing", "imported on use only")
    assert list(reg) == ["later"] and reg.descriptions() == {"later": "imported on use only"}
    with pytest.raises(ValueError, match="cannot import module 'no_such_module_abc'"):
        reg.lookup("later").load()
    with pytest.raises(ValueError, match="already registered"):
        reg.register("LATER", "x:y")
    reg.register("LATER", "builtins:len", replace=True)
    assert reg.lookup("later").load() is len and list(reg) == ["LATER"]


def test_objects_register_by_their_import_path():
    assert import_path_of(Registry) == "manifold_search.registry:Registry"
    with pytest.raises(ValueError, match="no import path"):
        import_path_of(lambda: None)


def test_listing_names_imports_no_sampler_or_space_module():
    code = ("import sys; from manifold_search.registry import SAMPLERS, SPACES; "
            "list(SAMPLERS.descriptions()); SPACES.lookup('digits'); "
            "print([m for m in ('optuna', 'torch', 'search_spaces.digits') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_sampler_defaults_are_read_from_the_sampler_class():
    from manifold_search import ManifoldSampler
    from manifold_search.samplers import sampler_defaults
    from manifold_search.study.data import startup_trials

    default = inspect.signature(ManifoldSampler.__init__).parameters["n_startup_trials"].default
    assert sampler_defaults("manifold")["n_startup_trials"] == default
    assert startup_trials({"sampler": {"name": "manifold", "options": {}}}) == default
    assert startup_trials({"sampler": {"name": "manifold", "options": {"n_startup_trials": 4}}}) == 4
    assert startup_trials({"sampler": {"name": "random", "options": {}}}) is None
    assert startup_trials({"sampler": {"name": "optuna.samplers:TPESampler"}}) == 10
