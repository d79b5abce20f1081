"""Study configs: the shipped ones load; every kind of bad input is one line, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from manifold_search.cli import main
from manifold_search.study.config import ConfigError, build_space, load_config, parse_config

STUDIES = sorted((Path(__file__).parent.parent / "studies").glob("*.toml"))
GOOD = """
[study]
name = "t"
n_trials = 3
output_dir = "{out}"

[space]
name = "digits"
epochs = 1
probe_size = 32

[sampler]
name = "manifold"
n_startup_trials = 2
"""


def test_shipped_configs_load_and_build():
    names = {p.name for p in STUDIES}
    assert {"quickstart.toml", "mnist1d_nas.toml", "digits.toml", "images_cifar10.toml"} <= names
    for path in STUDIES:
        config = load_config(path)
        space = build_space(config.space, str(path))  # constructs only, loads no data
        assert config.study.n_trials >= 1 and space.epochs >= 1
    cifar = load_config(Path(STUDIES[0]).parent / "images_cifar10.toml")
    assert cifar.space.options["dataset"] == "cifar10" and cifar.space.options["download"] is False


def test_defaults_and_storage(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = parse_config({"study": {"name": "a", "n_trials": 2}, "space": {"name": "digits"}})
    assert config.sampler.name == "manifold" and config.study.direction == "maximize"
    assert config.output_dir == tmp_path.resolve() / "runs" / "a"
    assert config.storage_url() == f"sqlite:///{tmp_path.resolve() / 'runs' / 'a' / 'study.db'}"
    # a path given on the command line is relative to the working directory
    assert config.storage_url("sqlite:///x.db") == f"sqlite:///{tmp_path.resolve() / 'x.db'}"
    assert config.storage_url("postgresql://u@h/db") == "postgresql://u@h/db"


def test_relative_paths_follow_the_config_file(tmp_path, monkeypatch):
    folder = tmp_path / "project" / "studies"
    folder.mkdir(parents=True)
    path = folder / "s.toml"
    path.write_text(
        '[study]\nname = "s"\nn_trials = 1\noutput_dir = "../runs/s"\n'
        'storage = "sqlite:///db/s.db"\n'
        '[space]\nname = "images"\ndata_dir = "data"\n'
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_config(Path("..") / "project" / "studies" / "s.toml")
    assert config.output_dir == (tmp_path / "project" / "runs" / "s").resolve()
    assert config.storage_url() == f"sqlite:///{(folder / 'db' / 's.db').resolve()}"
    assert config.space.options["data_dir"] == str((folder / "data").resolve())


def test_journal_files_and_artifact_folders_follow_the_config_file(tmp_path):
    (tmp_path / "sub").mkdir()
    path = tmp_path / "sub" / "j.toml"
    text = GOOD.format(out="out").replace('name = "t"', 'name = "t"\nstorage = "j.log"\n'
                                          'artifacts = "../shared"')
    path.write_text(text)
    config = load_config(path)
    assert config.storage_url() == f"journal:///{tmp_path / 'sub' / 'j.log'}"
    assert config.artifact_location() == str(tmp_path / "shared")


def test_names_are_case_insensitive(tmp_path):
    config = parse_config({"study": {"name": "a", "n_trials": 2}, "space": {"name": "Digits"},
                           "sampler": {"name": "TPE"}})  # fmt: skip
    assert config.space.name == "digits" and config.sampler.name == "tpe"


def _error(tmp_path, text: str) -> str:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(path))
    return message


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("n_trials = 3", "n_trial = 3"), ["[study] n_trial: unknown key", "did you mean n_trials"]),
        (("n_trials = 3", 'n_trials = "3"'), ["[study] n_trials must be a positive integer", "not a string"]),
        (("n_trials = 3", "n_trials = 0"), ["n_trials must be at least 1"]),
        (('name = "t"', 'name = "t"\ndirection = "up"'), ['direction must be "maximize" or "minimize"']),
        (('name = "t"', 'name = "t"\nstorage = "study.db"'), ["[study] storage", "not a database URL", "sqlite:///"]),
        (('name = "digits"', 'name = "cifar"'), ["[space] name", "unknown search space 'cifar'", "mnist1d"]),
        (("epochs = 1", "epoch = 1"), ["[space] (digits) epoch: unknown key", "did you mean epochs"]),
        (("epochs = 1", 'epochs = "one"'), ["[space] epochs must be an integer", "not a string"]),
        (("epochs = 1", "epochs = 0"), ["[space] digits", "epochs must be at least 1"]),
        (('name = "manifold"', 'name = "bayes"'), ["[sampler] name", "unknown sampler 'bayes'", "tpe"]),
        (('name = "manifold"', 'name = "manifld"'), ["unknown sampler 'manifld'", "did you mean manifold?"]),
        (("n_startup_trials = 2", "n_startup = 2"), ["[sampler] manifold rejected its options n_startup"]),
        (("[sampler]", "[samplers]"), ["table [samplers]: unknown key", "did you mean [sampler]"]),
        (("n_startup_trials = 2", 'n_startup_trials = "ten"'),
         ["[sampler] n_startup_trials expects an integer, got 'ten' (a string)"]),
        (("n_startup_trials = 2", 'region_weight = "high"'),
         ["[sampler] region_weight expects a number, got 'high' (a string)"]),
        (("n_startup_trials = 2", "constant_liar = 1"), ["constant_liar expects true or false, got 1"]),
        (("n_startup_trials = 2", 'distance = "net"'), ["distance expects one of 'network', 'params'"]),
        (('name = "manifold"', 'name = "tpe"\ngamma = 0.1'), ["[sampler] gamma expects a function, got 0.1"]),
        (("n_trials = 3", "n_trials = = 3"), ["not valid TOML"]),
        (("n_trials = 3", "n_trials = 10000000"), ["above the limit of 100000"]),
        (('name = "t"', 'name = "t"\nartifacts = "gs://b/x"'), ["[study] artifacts", "s3://BUCKET"]),
        (('name = "t"', 'name = "t"\nartifacts = "s3:///x"'), ["names no bucket"]),
        (('name = "t"', 'name = "t"\nartifacts = 3'), ["[study] artifacts must be a shared folder"]),
        (('name = "t"', 'name = "t"\nheartbeat = 0'), ["[study] heartbeat must be a whole number of seconds from 1 to 3600", "got 0"]),
        (('name = "t"', 'name = "t"\nheartbeat = 2.5'), ["[study] heartbeat must be", "not a number"]),
        (('name = "t"', 'name = "t"\nheartbeat = 86400'), ["from 1 to 3600", "got 86400"]),
    ],
)
def test_config_errors_are_one_line(tmp_path, change, expected):
    text = GOOD.format(out=tmp_path / "out").replace(*change)
    message = _error(tmp_path, text)
    for part in expected:
        assert part in message, message


def test_missing_tables_and_keys(tmp_path):
    assert "[space] table is missing" in _error(tmp_path, '[study]\nname = "a"\nn_trials = 1\n')
    assert "[study] n_trials is missing" in _error(tmp_path, '[study]\nname = "a"\n[space]\nname = "digits"\n')
    message = _error(tmp_path, '[study]\nname = "a"\nn_trials = 1\n[space]\nname = "nomodule:Y"\n')
    assert "search space 'nomodule:Y': cannot import module 'nomodule'" in message


def _cli(capsys, argv):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_config_errors_exit_2_without_traceback(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text(GOOD.format(out=tmp_path / "out").replace("epochs = 1", "epoch = 1"))
    code, _, err = _cli(capsys, ["run", str(path)])
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("manifold-search run: error:") and "epochs" in err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()  # nothing was created

    path.write_text(GOOD.format(out=tmp_path / "out").replace("n_startup_trials = 2",
                                                               'n_startup_trials = "ten"'))
    code, _, err = _cli(capsys, ["run", str(path)])
    assert code == 2 and err.count("\n") == 1, err
    assert "[sampler] n_startup_trials expects an integer, got 'ten' (a string)" in err
    assert not (tmp_path / "out").exists()

    code, _, err = _cli(capsys, ["run", str(tmp_path / "missing.toml")])
    assert code == 2 and "no such file" in err and err.count("\n") == 1

    good = tmp_path / "good.toml"
    good.write_text(GOOD.format(out=tmp_path / "out"))
    for argv, part in [
        (["--storage", "mysqlish://x"], "--storage: 'mysqlish://x' is not a database URL"),
        (["--storage", "postgresql://user@host/db"], "set [study] artifacts"),
        (["--sampler", "nope"], "unknown sampler 'nope'"),
        (["--trials", "0"], "--trials must be at least 1"),
        (["--workers", "0"], "--workers must be at least 1"),
        (["--trials", "many"], "invalid int value"),
    ]:
        code, _, err = _cli(capsys, ["run", str(good), *argv])
        assert code == 2 and part in err and err.count("\n") == 1, err
        assert "Traceback" not in err


def test_heartbeat_on_a_file_storage_is_refused(tmp_path, capsys):
    path = tmp_path / "hb.toml"
    path.write_text(GOOD.format(out=tmp_path / "out").replace('name = "t"', 'name = "t"\nheartbeat = 5'))
    assert load_config(path).study.heartbeat == 5
    code, _, err = _cli(capsys, ["run", str(path)])
    assert code == 2 and err.count("\n") == 1, err
    assert "[study] heartbeat applies to database servers" in err and "remove the key" in err
    assert not (tmp_path / "out").exists()


def test_cli_report_and_explore_errors(tmp_path, capsys):
    for command in ("report", "explore"):
        code, _, err = _cli(capsys, [command, str(tmp_path / "nowhere")])
        assert code == 2 and "no such directory" in err and err.count("\n") == 1
        code, _, err = _cli(capsys, [command, str(tmp_path)])
        assert code == 2 and "no study found" in err


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("run", ["--trials", "--storage", "--sampler", "--seed", "--workers", "resume", "exit status"]),
        ("report", ["--study", "--storage", "--baseline", "random", "exit status"]),
        ("explore", ["--study", "--out", "hover", "exit status"]),
    ],
)
def test_help_is_complete(capsys, command, options):
    code, out, _ = _cli(capsys, [command, "--help"])
    assert code == 0
    for option in options:
        assert option in out
