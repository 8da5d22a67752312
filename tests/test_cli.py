"""The ``ssdkit`` command: every tool behind one dispatcher, ``tools/*.py`` only running it, configs found by name."""

from __future__ import annotations

import importlib
import inspect
import re
import sys

import pytest

from ssdkit.cli.main import COMMANDS, CONVERTERS, main, usage
from ssdkit.engine.config import load_config
from ssdkit.engine.config_bases import resolve_bases
from ssdkit.engine.config_names import find_config, list_configs

from model_utils import ROOT


def test_help_lists_every_command_and_each_command_has_a_main(capsys):
    main(["--help"])
    out = capsys.readouterr().out
    for command, (module, _) in COMMANDS.items():
        assert re.search(rf"^  {re.escape(command)} ", out, re.M), command
        assert "argv" in inspect.signature(importlib.import_module(f"ssdkit.cli.{module}").main).parameters
    for module in CONVERTERS.values():
        assert "argv" in inspect.signature(importlib.import_module(f"ssdkit.cli.{module}").main).parameters
    main(["--version"])
    assert re.fullmatch(r"ssdkit \d+\.\d+\.\d+\n", capsys.readouterr().out)


def test_tools_are_thin_wrappers_over_the_cli():
    """Each tools/<name>.py runs ssdkit.cli.<name> and parses nothing itself (argument parsing exists once)."""
    scripts = sorted((ROOT / "tools").glob("*.py"))
    assert len(scripts) >= 14
    for script in scripts:
        text = script.read_text()
        assert f'run_tool("{script.stem}")' in text, script.name
        assert "argparse" not in text and len(text.splitlines()) <= 12, script.name
        importlib.import_module(f"ssdkit.cli.{script.stem}")


def test_a_mistyped_command_is_one_line_naming_the_closest():
    with pytest.raises(SystemExit, match=r"^error: unknown command 'trian'; did you mean 'train'\?"):
        main(["trian"])
    with pytest.raises(SystemExit, match=r"ssdkit convert \{torchvision,caffe\}"):
        main(["convert", "tensorflow"])


def test_subcommand_help_shows_its_own_flags(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    assert out.startswith("usage: ssdkit train") and "--resume" in out and "--cfg-options" in out
    assert usage().count("\n  ") == len(COMMANDS)


def test_configs_are_found_by_name_with_or_without_py():
    path = str(ROOT / "configs/ssd300_vgg16_voc0712.py")
    assert find_config("ssd300_vgg16_voc0712") == path
    assert find_config("ssd300_vgg16_voc0712.py") == path
    assert find_config("custom_voc") == str(ROOT / "configs/examples/custom_voc.py")
    assert find_config(path) == path
    assert "ssdlite300_mobilenet" in list_configs() and not any(n.startswith("_base_") for n in list_configs())
    assert load_config("ssdlite300_mobilenet").work_dir == "work_dirs/ssdlite300_mobilenet"


def test_an_unknown_config_name_is_one_line_with_close_names(capsys):
    with pytest.raises(FileNotFoundError, match=r"'ssd300_vgg16_voc072'.*did you mean ssd300_vgg16_voc0712"):
        find_config("ssd300_vgg16_voc072")
    with pytest.raises(SystemExit, match=r"^error: config file 'ssdlite300_mobilnet' does not exist.*did you mean"):
        main(["info", "ssdlite300_mobilnet"])
    with pytest.raises(FileNotFoundError):
        find_config("default_runtime")  # a base is not a config name


def test_a_user_config_may_name_a_packaged_config_as_its_base(tmp_path):
    mine = tmp_path / "mine.py"
    mine.write_text("_base_ = 'ssdkit::ssdlite300_mobilenet.py'\ntrain_cfg = dict(max_iters=7)\n")
    assert f"'{ROOT}/configs/ssdlite300_mobilenet.py'" in open(resolve_bases(str(mine))).read()
    cfg, original = load_config(str(mine)), load_config("ssdlite300_mobilenet")
    assert cfg.model == original.model and cfg.train_cfg.max_iters == 7 != original.train_cfg.max_iters
    mine.write_text("_base_ = ['ssdkit::no_such.py']\n")
    with pytest.raises(FileNotFoundError, match=r"_base_ 'ssdkit::no_such.py' is not a file of ssdkit's configs"):
        load_config(str(mine))


def test_the_demo_set_without_its_packages_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # an import of sklearn now fails as if it were not installed
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(SystemExit, match=r"^error: the demo set needs scikit-learn: pip install 'ssdkit\[demo\]'$"):
        main(["make-demo-dataset", "--out", str(tmp_path / "demo"), "--num-train", "2", "--num-val", "1"])
