"""A newcomer's mistakes, as they make them: each gets the real error first, in one line, naming the key."""

from __future__ import annotations

import re
import subprocess
import sys

import cv2
import numpy as np
import pytest

from ssdkit.data.demo import make_demo_dataset
from ssdkit.engine import ConfigError, check_config, wire_num_classes
from ssdkit.engine.config import load_config as load_config_file

from model_utils import ROOT, demo_config, load_config

DEMO = str(ROOT / "configs/demo/ssdlite224_mobilenet_demo.py")


@pytest.fixture(scope="module")
def demo_data(tmp_path_factory):
    data = tmp_path_factory.mktemp("demo")
    make_demo_dataset(str(data), num_train=6, num_val=2)
    return data


def test_num_classes_comes_from_the_data_and_cannot_disagree(demo_data, tmp_path):
    cfg = demo_config(str(demo_data), str(tmp_path))
    cfg.model.pop("num_classes")
    assert wire_num_classes(cfg).model.num_classes == 10  # the demo json's 10 digit categories
    cfg.model.num_classes = 20
    with pytest.raises(
        ConfigError,
        match=r"model.num_classes=20 but train_dataloader.dataset has 10 classes "
        r"\['digit_0'.*remove model.num_classes",
    ):
        wire_num_classes(cfg)
    voc = load_config("ssd300_vgg16_voc0712")
    voc.train_dataloader.dataset.datasets[0].metainfo = dict(classes=("cat", "dog"))
    with pytest.raises(
        ConfigError,
        match=r"val_dataloader.dataset has classes \['aeroplane', .* but "
        r"train_dataloader.dataset \['cat', 'dog'\]",
    ):
        wire_num_classes(voc)


def test_a_dataset_without_pipeline_names_the_key(demo_data, tmp_path):
    cfg = demo_config(str(demo_data), str(tmp_path))
    cfg.train_dataloader.dataset.pop("pipeline")
    with pytest.raises(ConfigError, match=r"train_dataloader.dataset.pipeline is missing or empty"):
        check_config(cfg)


def test_keys_inherited_from_the_base_concat_dataset_are_named(tmp_path):
    cfg = tmp_path / "mine.py"  # the mmdetection way: override the dataset, forgetting _delete_
    cfg.write_text(
        f"_base_ = '{ROOT}/configs/ssd300_vgg16_voc0712.py'\n"
        "train_dataloader = dict(dataset=dict(type='VOCDataset', data_root='data/mine/', year=None,\n"
        "    split='train', metainfo=dict(classes=('cat', 'dog')), pipeline=[dict(type='LoadImage')]))\n"
    )
    with pytest.raises(
        ConfigError,
        match=r"train_dataloader.dataset.datasets: VOCDataset takes no argument "
        r"'datasets'.*_delete_=True",
    ):
        check_config(load_config_file(str(cfg)))


def test_an_evaluator_key_that_is_not_its_argument_is_named(demo_data, tmp_path):
    cfg = demo_config(str(demo_data), str(tmp_path))
    cfg.val_evaluator = dict(type="CocoMetric", iou_threshold=0.5)  # VOCMetric's key, left over
    with pytest.raises(ConfigError, match=r"val_evaluator.iou_threshold: CocoMetric takes no argument"):
        check_config(cfg)


def test_a_top_level_variable_in_cfg_options_is_refused_naming_the_keys_that_read_it():
    with pytest.raises(
        ConfigError,
        match=r"^--cfg-options max_iters=...: 'max_iters' is a top-level variable.*would change nothing; "
        r"set the keys that took its value instead: .*train_cfg.max_iters=...",
    ):
        load_config_file(DEMO, {"max_iters": 3})
    assert load_config_file(DEMO, {"train_cfg.max_iters": 3}).train_cfg.max_iters == 3


def run_tool(tool: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "tools" / tool), *args],
        cwd=ROOT,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.mark.slow
def test_the_real_error_comes_first_in_one_line(demo_data, tmp_path):
    data = [
        f"{loader}.dataset.data_root={demo_data}"
        for loader in ("train_dataloader", "val_dataloader", "test_dataloader")
    ]
    cases = {  # what the user typed -> what the one line must say
        "config path": (
            ("train.py", "configs/ssd300_mobilnet.py"),
            r"config file 'configs/ssd300_mobilnet.py' does "
            r"not exist",
        ),
        "model key": (
            ("train.py", DEMO, "--cfg-options", "model.num_clases=3", *data),
            r"model.num_clases: SSD takes no argument 'num_clases' .*Did you mean 'num_classes'",
        ),
        "class count": (
            ("train.py", DEMO, "--cfg-options", "model.num_classes=20", *data),
            r"model.num_classes=20 but train_dataloader.dataset has 10 classes",
        ),
        "loader key": (
            ("train.py", DEMO, "--cfg-options", "train_dataloader.batch_sise=4", *data),
            r"train_dataloader.batch_sise: not a dataloader setting. Did you mean 'batch_size'",
        ),
        "resume path": (
            ("train.py", DEMO, "--resume", str(tmp_path / "nope.pth"), "--cfg-options", *data),
            r"load_from='.*nope.pth': no such checkpoint file",
        ),
        "test checkpoint": (
            ("test.py", DEMO, str(tmp_path / "missing.pth")),
            r"checkpoint '.*missing.pth' does not "
            r"exist",
        ),
    }
    procs = {name: run_tool(*args) for name, (args, _) in cases.items()}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        lines = [line for line in (out + err).splitlines() if line.strip()]
        assert proc.returncode != 0, (name, out, err)
        assert lines[-1].startswith("error: ") and len(lines) <= 3, (name, lines[:5])
        assert re.search(cases[name][1], lines[-1]), (name, lines[-1])


def test_a_corrupt_training_image_names_the_skip_option(demo_data, tmp_path):
    from mmengine.registry import init_default_scope

    from ssdkit.data import BadImageError
    from ssdkit.registry import DATASETS

    cfg = demo_config(str(demo_data), str(tmp_path))
    init_default_scope("ssdkit")
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    path = dataset.get_data_info(0)["img_path"]
    original = cv2.imread(path)
    try:
        with open(path, "wb") as f:
            f.write(b"not a jpeg")
        with pytest.raises(BadImageError, match=r"cannot read image .*on_bad_image='skip'"):
            dataset[0]
    finally:
        cv2.imwrite(path, np.asarray(original))


def write_tiny_voc(root, n: int = 5) -> None:
    """``n`` images of two classes in VOC layout without a year folder; every image in train and val."""
    rng = np.random.default_rng(0)
    for sub in ("Annotations", "JPEGImages", "ImageSets/Main"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        img = rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)
        cv2.imwrite(str(root / "JPEGImages" / f"im{i}.jpg"), img)
        objs = "".join(
            f"<object><name>{name}</name><difficult>0</difficult><bndbox><xmin>{x}</xmin><ymin>{y}</ymin>"
            f"<xmax>{x + 80}</xmax><ymax>{y + 60}</ymax></bndbox></object>"
            for name, x, y in (("cat", 20 + i, 30), ("dog", 150, 100 + i))
        )
        (root / "Annotations" / f"im{i}.xml").write_text(
            f"<annotation><filename>im{i}.jpg</filename><size><width>320</width><height>240</height></size>"
            f"{objs}</annotation>"
        )
    for split in ("train", "val"):
        (root / "ImageSets/Main" / f"{split}.txt").write_text("\n".join(f"im{i}" for i in range(n)) + "\n")


def write_tiny_coco(root, n: int = 5) -> None:
    rng = np.random.default_rng(1)
    (root / "images").mkdir(parents=True)
    (root / "annotations").mkdir()
    images, anns = [], []
    for i in range(n):
        cv2.imwrite(str(root / "images" / f"im{i}.jpg"), rng.integers(0, 255, (240, 320, 3), dtype=np.uint8))
        images.append(dict(id=i + 1, file_name=f"im{i}.jpg", width=320, height=240))
        for cat, box in ((1, [20, 30, 80, 60]), (2, [150, 100, 70, 90])):
            anns.append(
                dict(id=len(anns) + 1, image_id=i + 1, category_id=cat, bbox=box, area=box[2] * box[3], iscrowd=0)
            )
    doc = dict(images=images, annotations=anns, categories=[dict(id=1, name="cat"), dict(id=2, name="dog")])
    for split in ("train", "val"):
        (root / "annotations" / f"{split}.json").write_text(__import__("json").dumps(doc))


@pytest.mark.slow
@pytest.mark.parametrize("example", ["custom_voc", "custom_coco"])
def test_the_example_configs_train_on_your_own_data(tmp_path, example):
    """As the README says: copy the example, edit data_root (and classes), train. 5 iterations, then evaluation."""
    data = tmp_path / "data"
    (write_tiny_voc if example == "custom_voc" else write_tiny_coco)(data)
    text = (ROOT / "configs/examples" / f"{example}.py").read_text()
    edited = text.replace("data_root = 'data/my_voc/'", f"data_root = '{data}/'")
    edited = edited.replace("data_root = 'data/my_coco/'", f"data_root = '{data}/'")
    edited = edited.replace("classes = ('cat', 'dog')", "classes = ('cat', 'dog')  # the user's own")
    edited = edited.replace("_base_ = './custom_voc.py'", f"_base_ = '{ROOT}/configs/examples/custom_voc.py'")
    edited = edited.replace("'../_base_/", f"'{ROOT}/configs/_base_/")
    assert edited != text
    cfg = tmp_path / f"my_{example}.py"
    cfg.write_text(edited)
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tools/train.py"),
            str(cfg),
            "--work-dir",
            str(tmp_path / "w"),
            "--cfg-options",
            "train_cfg.max_iters=5",
            "train_cfg.val_interval=5",
            "default_hooks.checkpoint.interval=5",
            "train_dataloader.batch_size=2",
            "train_dataloader.num_workers=0",
            "train_dataloader.persistent_workers=False",
            "val_dataloader.num_workers=0",
            "val_dataloader.persistent_workers=False",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "w" / "iter_5.pth").exists()
    metric = "pascal_voc/mAP" if example == "custom_voc" else "coco/AP"
    assert re.search(rf"Iter\(val\) \[\d+/\d+\].*{re.escape(metric)}: \d", proc.stdout + proc.stderr)


def test_infer_and_test_write_one_json_format(demo_data, tmp_path):
    """tools/test.py --out and tools/infer.py write the same records for the same images; infer skips a non-image
    file with a warning and a count, and gives same-named images from two folders distinct outputs."""
    import json
    import shutil

    import torch

    from model_utils import build_model

    model = build_model(demo_config(str(demo_data), str(tmp_path), background_prior=False))  # random, detecting
    ckpt = tmp_path / "demo.pth"
    classes = [f"digit_{i}" for i in range(10)]
    torch.save(dict(state_dict=model.state_dict(), meta=dict(dataset_meta=dict(classes=classes))), ckpt)
    data = [
        f"test_dataloader.dataset.data_root={demo_data}",
        "test_dataloader.num_workers=0",
        "test_dataloader.persistent_workers=False",
    ]
    test = run_tool(
        "test.py",
        DEMO,
        str(ckpt),
        "--out",
        str(tmp_path / "test.json"),
        "--num",
        "2",
        "--work-dir",
        str(tmp_path / "w"),
        "--cfg-options",
        *data,
    )
    images = sorted((demo_data / "val").glob("*.jpg"))
    for folder in ("one", "two"):  # the same file name in two folders
        (tmp_path / folder).mkdir()
        shutil.copy(images[0], tmp_path / folder / "x.jpg")
    (tmp_path / "one" / "notes.txt").write_text("not an image")
    infer = run_tool(
        "infer.py",
        DEMO,
        str(ckpt),
        str(images[0]),
        str(images[1]),
        str(tmp_path / "one"),
        str(tmp_path / "two"),
        "--out-dir",
        str(tmp_path / "out"),
        "--score-thr",
        "0",
    )
    for proc in (test, infer):
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]
    assert "1 skipped" in out and "notes.txt" in err  # the warning names it, the summary counts it
    from_test = json.loads((tmp_path / "test.json").read_text())
    from_infer = json.loads((tmp_path / "out/detections.json").read_text())
    assert len(from_test) == 2 and len(from_infer) == 4  # --num 2; two images + two same-named copies
    assert {r["output"] for r in from_infer} == {
        images[0].stem + ".jpg",
        images[1].stem + ".jpg",
        "one_x.jpg",
        "two_x.jpg",
    }
    by_image = {r["image"]: r for r in from_infer}
    for rec in from_test:
        assert set(rec) == {"image", "detections"} and rec["image"] in by_image
        ours = by_image[rec["image"]]["detections"]
        assert len(rec["detections"]) == len(ours) == 200
        for a, b in zip(rec["detections"], ours, strict=True):
            assert set(a) == {"box", "score", "label", "name"} and a["name"] == classes[a["label"]]
            assert a["label"] == b["label"] and abs(a["score"] - b["score"]) < 1e-3
            assert max(abs(u - v) for u, v in zip(a["box"], b["box"], strict=True)) < 0.05


def test_labels_are_drawn_inside_the_image():
    from ssdkit.visualization import draw_boxes

    img = np.zeros((60, 80, 3), np.uint8)
    out = draw_boxes(img, np.array([[70.0, 0.0, 80.0, 10.0]]), [0], ["a_long_class_name"], [0.99])
    ink = np.argwhere(out.any(axis=2))
    assert ink[:, 1].min() < 70 - 20  # the label box moved left to fit
    label_rows = out[:12].any(axis=2).sum(axis=1)
    assert label_rows.max() > 40  # the whole label (wider than the 10-px box) is inside, on the top rows
