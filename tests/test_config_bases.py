"""A copied config finds its ``_base_`` files: next to it when they are there, else in ssdkit's configs/."""

from __future__ import annotations

import pytest

from ssdkit.engine.config import load_config
from ssdkit.engine.config_bases import resolve_bases

from model_utils import ROOT

EXAMPLE = ROOT / "configs/examples/custom_voc.py"


def test_a_config_whose_bases_exist_is_loaded_as_it_is():
    assert resolve_bases(str(EXAMPLE)) == str(EXAMPLE)
    assert resolve_bases(str(ROOT / "configs/ssd300_vgg16_voc0712.py")) == str(ROOT / "configs/ssd300_vgg16_voc0712.py")


def test_an_example_copied_into_a_project_folder_loads_like_the_original(tmp_path):
    copy = tmp_path / "my_project" / "my_data.py"
    copy.parent.mkdir()
    copy.write_text(EXAMPLE.read_text())
    resolved = resolve_bases(str(copy))
    assert resolved != str(copy) and resolved.endswith("/my_data.py")
    text = open(resolved).read()
    assert f"'{ROOT}/configs/_base_/models/ssdlite300_mobilenet.py'" in text
    original, copied = load_config(str(EXAMPLE)), load_config(str(copy))
    assert copied.model == original.model and copied.train_dataloader == original.train_dataloader
    assert copied.work_dir == "work_dirs/my_data"  # named after the user's file, not the temporary copy


def test_a_copied_example_whose_base_is_another_example_finds_it(tmp_path):
    copy = tmp_path / "tiles.py"  # _base_ = './custom_voc.py', which lives in configs/examples/
    copy.write_text((ROOT / "configs/examples/tiles_voc.py").read_text())
    assert f"'{ROOT}/configs/examples/custom_voc.py'" in open(resolve_bases(str(copy))).read()
    assert load_config(str(copy)).model == load_config(str(ROOT / "configs/examples/tiles_voc.py")).model


def test_a_base_found_nowhere_is_one_line_saying_what_to_write(tmp_path):
    cfg = tmp_path / "mine.py"
    cfg.write_text("_base_ = ['../_base_/models/no_such_model.py']\n")
    with pytest.raises(
        FileNotFoundError, match=r"_base_ '../_base_/models/no_such_model.py' exists neither .*relative"
    ):
        load_config(str(cfg))
