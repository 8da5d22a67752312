"""Caffe MobileNet-SSD converted without Caffe: the same outputs and detections as OpenCV DNN running the Caffe files.

The test writes its own MobileNet-SSD (tests/caffe_writer.py: the prototxt from the published layer table, and a
caffemodel with random weights in the protobuf wire format) in both released forms: the trained net (Convolution
without bias + BatchNorm + Scale, as deploy.prototxt) and the merged one (BN folded into Convolution with bias, as
MobileNetSSD_deploy.prototxt; the same network, merged as merge_bn.py does). OpenCV reading those files proves the
writer; ssdkit's reader is tested against the writer, and the converted model against OpenCV DNN:
``mbox_loc``, ``mbox_conf`` (logits and softmax), ``mbox_priorbox`` and ``detection_out``.

OpenCV 5 dropped the Caffe importer (``cv2.dnn.readNetFromCaffe``); constraints.txt pins opencv-python 4.14, which
has it. Without it the OpenCV comparisons are skipped, with a message saying so; nothing else is.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import caffe_writer as cw
import cv2
import numpy as np
import pytest
import torch

from ssdkit.convert.caffe import CaffeConversionError, convert_caffe_mobilenet_ssd, detection_output_settings
from ssdkit.convert.caffe_model import CaffeFormatError, read_caffemodel
from ssdkit.convert.prototxt import parse_prototxt
from ssdkit.data import VOC_CLASSES

from float_tolerance import assert_same_detections, conv_depth_and_width, float32_tolerance
from model_utils import ROOT, build_model, load_config, sample

CONFIG = "ssd300_mobilenet_caffe"
FORMS = ("train", "deploy")
#: batch_norm_param { eps } on two BatchNorms (Caffe's default is 1e-5, as torch's)
BN_EPS = {"conv5": 1e-3, "conv14_2": 1e-4}
#: blob encodings besides Caffe's own (BlobShape + packed floats), all of which OpenCV reads too
STYLES = {
    "conv1": "unpacked",
    "conv2/dw": "legacy",
    "conv3/bn": "legacy",
    "conv4/scale": "unpacked",
    "conv13_mbox_conf": "legacy",
}
SIZE = 300
HAS_CAFFE_IMPORTER = hasattr(cv2.dnn, "readNetFromCaffe")
NO_IMPORTER = (
    f"OpenCV {cv2.__version__} has no Caffe importer (cv2.dnn.readNetFromCaffe; OpenCV 5 dropped it): "
    f"install opencv-python 4.14 as constraints.txt pins to compare with OpenCV DNN"
)
needs_opencv_caffe = pytest.mark.skipif(not HAS_CAFFE_IMPORTER, reason=NO_IMPORTER)


def detection_params() -> dict:
    """The config's postprocessor as Caffe DetectionOutput settings, so both sides run the same NMS.

    Caffe: per class, scores above ``confidence_threshold``, the ``top_k`` best, NMS at ``nms_threshold``; then the
    ``keep_top_k`` best over all classes. ``SSDPostprocessor``: per class the ``pre_nms_topk`` best, those above
    ``score_thr``, NMS at ``nms_iou``, the ``max_per_img`` best: the same candidates (the k best of those above the
    threshold are those above it among the k best), both greedy NMS dropping IoU > threshold, and both leave the
    boxes unclipped (``clip=False``, Caffe's ``clip_bbox = false``). They can differ only on exact score ties at the
    top-k or keep-top-k cut, which random float scores do not have, and on wild size offsets: ssdkit's decoding
    clamps ``0.2 * dw`` at log(1000 / 16) (a box 62.5 times its prior), Caffe's does not (here ``|dw| < 2``).
    """
    post = load_config(CONFIG).model.postprocessor
    assert post.get("clip") is False
    return dict(
        confidence_threshold=post.score_thr,
        top_k=post.pre_nms_topk,
        nms_threshold=post.nms_iou,
        keep_top_k=post.max_per_img,
    )


def images() -> list[np.ndarray]:
    rng = np.random.default_rng(5)
    return [rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8) for _ in range(3)]  # BGR, as cv2.imread gives


def write(
    folder: Path, form: str, weights: dict | None = None, prototxt: str | None = None, styles: dict | None = None
) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    weights = cw.random_weights(form, seed=0, bn_eps=BN_EPS) if weights is None else weights
    proto, model = folder / f"{form}.prototxt", folder / f"{form}.caffemodel"
    proto.write_text(prototxt or cw.mobilenet_ssd_prototxt(form, detection_params(), BN_EPS))
    model.write_bytes(cw.caffemodel_bytes(weights, cw.layer_types(form), STYLES if styles is None else styles))
    return proto, model


@pytest.fixture(scope="module", params=FORMS)
def caffe(request, tmp_path_factory):
    """``(form, prototxt, caffemodel, written weights)``."""
    form = request.param
    weights = cw.random_weights(form, seed=0, bn_eps=BN_EPS)
    proto, model = write(tmp_path_factory.mktemp(form), form, weights)
    return form, proto, model, weights


@pytest.fixture(scope="module")
def converted(caffe):
    """The converted model, loaded strictly into the config's model."""
    _, proto, model_file, _ = caffe
    model = build_model(CONFIG).eval()
    model.load_state_dict(convert_caffe_mobilenet_ssd(proto, model_file), strict=True)
    return model


@pytest.fixture(scope="module")
def ours(converted):
    """:func:`ssdkit_outputs` of the converted model."""
    return ssdkit_outputs(converted)


@pytest.fixture(scope="module")
def opencv_outputs(caffe):
    """OpenCV DNN on :func:`images`: ``mbox_loc [B, P*4]``, ``mbox_conf [B, P*21]``, ``mbox_conf_flatten``,
    ``mbox_priorbox [1, 2, P*4]``, ``detection_out [1, 1, N, 7]``."""
    if not HAS_CAFFE_IMPORTER:
        pytest.skip(NO_IMPORTER)
    _, proto, model_file, _ = caffe
    net = cv2.dnn.readNetFromCaffe(str(proto), str(model_file))
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    # a Python scalar mean would be Scalar(127.5, 0, 0, 0): only the first channel would lose its mean
    net.setInput(cv2.dnn.blobFromImages(images(), 0.007843, (SIZE, SIZE), (127.5, 127.5, 127.5)))
    names = ["mbox_loc", "mbox_conf", "mbox_conf_flatten", "mbox_priorbox", "detection_out"]
    return dict(zip(names, (torch.from_numpy(o.copy()) for o in net.forward(names)), strict=True))


def ssdkit_outputs(model) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list]:
    """``cls_logits [B, P, 21]``, ``box_deltas [B, P, 4]``, ``priors [P, 4]`` and the predicted samples."""
    x = [torch.from_numpy(im).permute(2, 0, 1) for im in images()]
    with torch.no_grad():
        data = model.data_preprocessor(dict(inputs=x, data_samples=[sample([], []) for _ in x]), False)
        logits, deltas = model(data["inputs"], mode="tensor")
        priors = model.priors_for(model.extract_feats(data["inputs"]), data["inputs"], torch.float32)
        predicted = model(**data, mode="predict")
    return logits, deltas, priors, predicted


def tolerances(model, logits: torch.Tensor) -> tuple[float, float]:
    """``(logit_tol, unit_tol)``: tests/float_tolerance.py's bound for this network's depth and width, for outputs
    as large as ``logits`` and for outputs of size 1."""
    depth, width = conv_depth_and_width([model.backbone, model.neck], model.head)
    assert (depth, width) == (36, 2304)  # 27 MobileNet + 8 extra convs + 1 head conv; conv14_2's 3x3 over 256
    return float32_tolerance(depth, width, logits), float32_tolerance(depth, width, torch.ones(1))


def detection_tolerances(
    model, logits: torch.Tensor, deltas: torch.Tensor, priors: torch.Tensor
) -> tuple[float, float]:
    """``(score_tol, box_tol)``: the float32 bounds carried through softmax (which moves by at most half the largest
    logit change) and decoding (a box corner moves by ``w (0.1 + 0.1 exp(0.2 |dw|))`` per unit of delta), capped
    at the brief's bounds (scores 1e-4, boxes 1 % of the image)."""
    logit_tol, unit_tol = tolerances(model, logits)
    side = float((priors[:, 2:] - priors[:, :2]).max())
    growth = 0.1 + 0.1 * math.exp(float(deltas[..., 2:].abs().max()) / 5)
    return min(1e-4, 0.5 * logit_tol), min(0.01 * SIZE, side * growth * unit_tol * float(deltas.abs().max()))


def opencv_detections(rows: torch.Tensor, image: int) -> dict:
    """OpenCV's ``detection_out`` rows ``[N, 7]`` (image, Caffe label, score, normalised xyxy) of one image, as
    ssdkit detections (0-based labels: Caffe's label 0 is the background, ssdkit's head column 0 too)."""
    rows = rows[(rows[:, 0] == image) & (rows[:, 2] > 0)]  # OpenCV pads the output with all-zero rows
    return dict(boxes=rows[:, 3:7] * SIZE, scores=rows[:, 2], labels=rows[:, 1].long() - 1)


# ------------------------------------------------------------------------------------------------ the files


def test_reader_returns_the_written_blobs(caffe):
    form, _, model_file, weights = caffe
    layers = read_caffemodel(model_file)
    assert list(layers) == ["data", *weights] and layers["data"].blobs == []
    types = cw.layer_types(form)
    for name, blobs in weights.items():
        assert layers[name].type == types[name]
        assert len(layers[name].blobs) == len(blobs), name
        for got, want in zip(layers[name].blobs, blobs, strict=True):
            expect_shape = (1,) * (4 - want.ndim) + want.shape if STYLES.get(name) == "legacy" else want.shape
            assert got.shape == expect_shape and got.dtype == np.float32, name
            np.testing.assert_array_equal(got.reshape(want.shape), want, err_msg=name)


def test_reader_takes_legacy_layers_and_double_data(tmp_path):
    rng = np.random.default_rng(1)
    w, b = rng.normal(size=(4, 3, 1, 1)).astype(np.float32), rng.normal(size=4).astype(np.float32)
    path = tmp_path / "v1.caffemodel"
    path.write_bytes(
        cw.net_proto(
            [cw.layer_proto("new", "Scale", [cw.blob_proto(b, "double")])],
            [cw.v1_layer_proto("old", 4, [cw.blob_proto(w, "legacy"), cw.blob_proto(b)])],
        )
    )
    layers = read_caffemodel(path)
    assert layers["old"].type == "Convolution" and layers["new"].type == "Scale"
    np.testing.assert_array_equal(layers["old"].blobs[0], w)
    np.testing.assert_array_equal(layers["old"].blobs[1], b)
    np.testing.assert_array_equal(layers["new"].blobs[0], b)  # doubles of float32 values cast back exactly


def test_prototxt_parser():
    text = cw.mobilenet_ssd_prototxt("train", detection_params(), BN_EPS)
    layers = parse_prototxt(text)["layer"]
    conv = next(lay for lay in layers if lay["name"] == ["conv2/dw"])
    assert conv["convolution_param"][0]["group"] == [64] and conv["convolution_param"][0]["stride"] == [2]
    assert next(lay for lay in layers if lay["name"] == ["conv5/bn"])["batch_norm_param"][0]["eps"] == [1e-3]
    prior = next(lay for lay in layers if lay["name"] == ["conv13_mbox_priorbox"])
    assert prior["bottom"] == ["conv13", "data"] and prior["prior_box_param"][0]["aspect_ratio"] == [2.0, 3.0]
    assert detection_output_settings(text) == dict(score_thr=0.25, pre_nms_topk=100, nms_iou=0.45, max_per_img=100)
    got = parse_prototxt('# comment\na: 1e-5 b: -inf c: [1, 2] d <x: "p" \'q\'> e { } f: 0.5f g: CENTER_SIZE h: true')
    assert got == dict(
        a=[1e-5], b=[-math.inf], c=[1, 2], d=[dict(x=["pq"])], e=[{}], f=[0.5], g=["CENTER_SIZE"], h=[True]
    )
    with pytest.raises(CaffeFormatError, match=r"line 2: missing '\}'"):
        parse_prototxt("a {\n b: 1")


@needs_opencv_caffe
def test_opencv_reads_the_written_caffemodel(caffe):
    """``getParam`` of a freshly read net gives every written blob back (all layers: OpenCV fuses BatchNorm and Scale
    into its own copy of the convolution's weights when it sets the net up, and keeps the layers' blobs as read)."""
    _, proto, model_file, weights = caffe
    net = cv2.dnn.readNetFromCaffe(str(proto), str(model_file))
    for name, blobs in weights.items():
        for i, want in enumerate(blobs):
            got = net.getParam(name, i)
            np.testing.assert_array_equal(got.reshape(-1), want.reshape(-1), err_msg=f"{name} blob {i}")


# ------------------------------------------------------------------------------------------------ parity


def test_train_and_merged_forms_convert_to_the_same_network(tmp_path):
    """The merged net is the trained one with BN folded in (merge_bn.py): both conversions compute the same."""
    outs = []
    for form in FORMS:
        model = build_model(CONFIG).eval()
        model.load_state_dict(convert_caffe_mobilenet_ssd(*write(tmp_path, form)), strict=True)
        outs.append((model, ssdkit_outputs(model)[:2]))
    (model, (logits, deltas)), (_, (logits2, deltas2)) = outs
    logit_tol, unit_tol = tolerances(model, logits)
    assert (logits - logits2).abs().max() <= logit_tol
    assert (deltas - deltas2).abs().max() <= unit_tol * float(deltas.abs().max())


@needs_opencv_caffe
def test_raw_outputs_and_priors_equal_opencv(caffe, converted, ours, opencv_outputs):
    form = caffe[0]
    logits, deltas, priors, _ = ours
    b, p = logits.shape[:2]
    assert p == 1917 and opencv_outputs["mbox_loc"].shape == (b, p * 4)
    logit_tol, unit_tol = tolerances(converted, opencv_outputs["mbox_conf"])
    diffs = dict(
        conf_logits=(logits.reshape(b, -1) - opencv_outputs["mbox_conf"]).abs().max(),
        conf_softmax=(logits.softmax(-1).reshape(b, -1) - opencv_outputs["mbox_conf_flatten"]).abs().max(),
        loc=(deltas.reshape(b, -1) - opencv_outputs["mbox_loc"]).abs().max(),
        priors=(priors.reshape(-1) / SIZE - opencv_outputs["mbox_priorbox"][0, 0]).abs().max(),
    )
    loc_tol = unit_tol * float(opencv_outputs["mbox_loc"].abs().max())
    print(
        f"\n{form}: max |ssdkit - OpenCV| "
        + ", ".join(f"{k} {float(v):.3g}" for k, v in diffs.items())
        + f" (tolerances: logits {logit_tol:.3g}, loc {loc_tol:.3g})"
    )
    assert diffs["conf_logits"] <= logit_tol
    assert diffs["conf_softmax"] <= 0.5 * logit_tol  # softmax moves by at most half the largest logit change
    assert diffs["loc"] <= loc_tol
    # Caffe's PriorBox and ssdkit's priors: float32 arithmetic on numbers below 1.5 (normalised corners)
    assert diffs["priors"] <= 1e-6
    variances = opencv_outputs["mbox_priorbox"][0, 1].view(-1, 4)
    assert torch.equal(variances, torch.tensor(converted.box_coder.variances).expand(p, 4))


def test_priors_are_caffe_prior_box():
    """ssdkit's priors for this config, against Caffe's PriorBox (prior_box_layer.cpp) written out per level: no
    ``step`` gives centres at ``(j + 0.5) * 300 / map`` (19x19: 15.79 px apart, not 16); per location the min square,
    the sqrt(min max) square (levels with max_size), then ar and 1/ar for each ratio (flip); ``clip: false``."""
    model = build_model(CONFIG)
    maps = [19, 10, 5, 3, 2, 1]
    priors = model.prior_generator([(m, m) for m in maps], (SIZE, SIZE)).double() / SIZE
    ref = []
    for m, (_, lo, hi, ratios) in zip(maps, cw.MAPS, strict=True):
        wh = [(lo, lo)] + ([(math.sqrt(lo * hi),) * 2] if hi is not None else [])
        wh += [
            wh_
            for r in ratios
            for wh_ in ((lo * math.sqrt(r), lo / math.sqrt(r)), (lo * math.sqrt(1 / r), lo / math.sqrt(1 / r)))
        ]
        step = SIZE / m
        c = (torch.arange(m, dtype=torch.float64) + 0.5) * step
        cy, cx = torch.meshgrid(c, c, indexing="ij")
        centre = torch.stack((cx, cy), -1).view(-1, 1, 2)
        half = torch.tensor(wh, dtype=torch.float64).view(1, -1, 2) / 2
        ref.append(torch.cat((centre - half, centre + half), -1).view(-1, 4) / SIZE)
    ref_t = torch.cat(ref)
    assert priors.shape == ref_t.shape == (1917, 4)
    assert (priors - ref_t).abs().max() <= 1e-6
    assert priors[0].tolist() == pytest.approx(
        [(7.894737 - 30) / 300, (7.894737 - 30) / 300, (7.894737 + 30) / 300, (7.894737 + 30) / 300], abs=1e-6
    )
    assert float(priors[3, 0] - priors[0, 0]) == pytest.approx(300 / 19 / 300, abs=1e-6)  # next centre: 15.79 px
    assert priors.min() < 0 and priors.max() > 1  # not clipped


def compare_detections(
    predicted: list, rows: torch.Tensor, score_tol: float, box_tol: float, max_per_img: int
) -> tuple[list[int], float, float]:
    """:func:`assert_same_detections` per image; ``(detections per image, max score and box differences)``."""
    counts, worst_score, worst_box = [], 0.0, 0.0
    for i, out in enumerate(predicted):
        det = out.pred_instances
        ours, ref = dict(boxes=det.bboxes, scores=det.scores, labels=det.labels), opencv_detections(rows, i)
        assert_same_detections(ours, ref, score_tol, box_tol, max_per_img=max_per_img)
        counts.append(len(ref["scores"]))
        o, r = torch.argsort(ours["scores"]), torch.argsort(ref["scores"])
        if len(o) == len(r) and torch.equal(ours["labels"][o], ref["labels"][r]):
            worst_score = max(worst_score, float((ours["scores"][o] - ref["scores"][r]).abs().max()))
            worst_box = max(worst_box, float((ours["boxes"][o] - ref["boxes"][r]).abs().max()))
    return counts, worst_score, worst_box


@needs_opencv_caffe
def test_detections_equal_opencv_detection_out(caffe, converted, ours, opencv_outputs):
    form = caffe[0]
    logits, deltas, priors, predicted = ours
    score_tol, box_tol = detection_tolerances(converted, logits, deltas, priors)
    rows = opencv_outputs["detection_out"].view(-1, 7)
    post = converted.postprocessor
    counts, worst_score, worst_box = compare_detections(predicted, rows, score_tol, box_tol, post.max_per_img)
    print(
        f"\n{form}: detections per image {counts}; max |ssdkit - OpenCV| score {worst_score:.3g}, box "
        f"{worst_box:.3g} px (tolerances {score_tol:.3g}, {box_tol:.3g} px)"
    )
    # the random net is a fair test: dozens of detections per image, of many classes; NMS and threshold at work
    assert min(counts) >= 30 and len(set(opencv_detections(rows, 0)["labels"].tolist())) >= 8
    assert float(ours[1][..., 2:].abs().max()) < 2  # far from the decoding's clamp
    assert (logits.softmax(-1)[..., 1:] > post.score_thr).sum() > sum(counts)


@needs_opencv_caffe
def test_detections_equal_opencv_when_top_k_and_keep_top_k_cut(tmp_path):
    """Settings under which Caffe's per-class ``top_k`` and the overall ``keep_top_k`` both cut (the released ones
    rarely reach them on this net): ``SSDPostprocessor``'s ``pre_nms_topk`` and ``max_per_img`` cut the same way."""
    settings = dict(confidence_threshold=0.1, top_k=15, nms_threshold=0.3, keep_top_k=60)
    proto, model_file = write(tmp_path, "deploy", prototxt=cw.mobilenet_ssd_prototxt("deploy", settings))
    post = dict(type="SSDPostprocessor", score_thr=0.1, pre_nms_topk=15, nms_iou=0.3, max_per_img=60, clip=False)
    model = build_model(CONFIG, postprocessor=post).eval()
    model.load_state_dict(convert_caffe_mobilenet_ssd(proto, model_file), strict=True)
    logits, deltas, priors, predicted = ssdkit_outputs(model)
    net = cv2.dnn.readNetFromCaffe(str(proto), str(model_file))
    net.setInput(cv2.dnn.blobFromImages(images(), 0.007843, (SIZE, SIZE), (127.5, 127.5, 127.5)))
    rows = torch.from_numpy(net.forward("detection_out").copy()).view(-1, 7)
    score_tol, box_tol = detection_tolerances(model, logits, deltas, priors)
    counts, worst_score, worst_box = compare_detections(predicted, rows, score_tol, box_tol, 60)
    print(
        f"\ncut settings: detections per image {counts}; max |ssdkit - OpenCV| score {worst_score:.3g}, box "
        f"{worst_box:.3g} px"
    )
    per_class = (logits.softmax(-1)[..., 1:] > 0.1).sum(dim=1)  # [B, 20] candidates per image and class
    assert int(per_class.max()) > 15 and counts == [60] * len(counts)  # both cuts were reached


# ------------------------------------------------------------------------------------------------ errors


def test_corrupt_and_truncated_caffemodels_name_file_and_layer(tmp_path):
    proto, model_file = write(tmp_path, "train", styles={})
    data = model_file.read_bytes()
    cut = tmp_path / "cut.caffemodel"
    at = data.index(b"conv7/dw") + 100  # inside conv7/dw's weights
    cut.write_bytes(data[:at])
    with pytest.raises(
        CaffeFormatError,
        match=rf"caffemodel '{re.escape(str(cut))}' is truncated: layer 'conv7/dw' "
        rf"\(Convolution\)",
    ):
        read_caffemodel(cut)
    with pytest.raises(CaffeFormatError, match="truncated: layer 'conv7/dw'"):
        convert_caffe_mobilenet_ssd(proto, cut)
    bad = tmp_path / "bad.caffemodel"
    start = data.index(b"conv3/bn") + len(b"conv3/bn")
    blob = data.index(b":", start)  # 0x3a: the tag of its first blob (field 7, length-delimited)
    bad.write_bytes(data[:blob] + b"\x07" + data[blob + 1 :])  # field 0, wire type 7: no protobuf has it
    with pytest.raises(
        CaffeFormatError,
        match=rf"caffemodel '{re.escape(str(bad))}' is corrupt: layer 'conv3/bn' "
        rf"\(BatchNorm\)",
    ):
        read_caffemodel(bad)
    text = tmp_path / "text.caffemodel"
    text.write_text(proto.read_text())  # a prototxt passed as the caffemodel
    with pytest.raises(CaffeFormatError, match=rf"caffemodel '{re.escape(str(text))}'"):
        read_caffemodel(text)


def test_mismatched_files_name_file_and_layer(tmp_path):
    weights = cw.random_weights("train", seed=0, bn_eps=BN_EPS)
    missing = {k: v for k, v in weights.items() if k != "conv7/dw"}
    proto, model_file = write(tmp_path / "missing", "train", missing)
    with pytest.raises(
        CaffeConversionError,
        match=rf"caffemodel '{re.escape(str(model_file))}': no layer 'conv7/dw' "
        rf"\(Convolution, in prototxt '{re.escape(str(proto))}'\)",
    ):
        convert_caffe_mobilenet_ssd(proto, model_file)
    wrong = dict(weights, conv7=[np.zeros((512, 256, 1, 1), np.float32)])
    proto, model_file = write(tmp_path / "shape", "train", wrong)
    with pytest.raises(
        CaffeConversionError,
        match=rf"caffemodel '{re.escape(str(model_file))}': layer 'conv7' "
        r"\(Convolution\) blob 0 has shape \(512, 256, 1, 1\), "
        r"expected \(512, 512, 1, 1\)",
    ):
        convert_caffe_mobilenet_ssd(proto, model_file)
    extra = dict(weights, conv18=[np.zeros((8, 128, 1, 1), np.float32)])
    types = dict(cw.layer_types("train"), conv18="Convolution")
    model_file = tmp_path / "extra.caffemodel"
    model_file.write_bytes(cw.caffemodel_bytes(extra, types))
    with pytest.raises(
        CaffeConversionError,
        match=r"unexpected layer\(s\) with weights .* 'conv18' \(Convolution, "
        r"blob shapes \[\(8, 128, 1, 1\)\]\)",
    ):
        convert_caffe_mobilenet_ssd(proto, model_file)
    merged_proto, _ = write(tmp_path / "merged", "deploy")
    with pytest.raises(CaffeConversionError, match=r"layer 'conv0' has 1 blobs, but prototxt .* bias_term: true"):
        convert_caffe_mobilenet_ssd(merged_proto, write(tmp_path / "train", "train")[1])
    other = cw.mobilenet_ssd_prototxt("train", detection_params(), BN_EPS).replace("min_size: 60.0", "min_size: 30.0")
    proto, model_file = write(tmp_path / "prior", "train", prototxt=other)
    with pytest.raises(CaffeConversionError, match=r"PriorBox layer 'conv11_mbox_priorbox' has min_size=\[30.0\]"):
        convert_caffe_mobilenet_ssd(proto, model_file)


@pytest.mark.slow
def test_tool_writes_a_checkpoint_that_loads_strict(tmp_path):
    from ssdkit.apis import init_detector

    proto, model_file = write(tmp_path, "deploy")
    dst = tmp_path / "out" / "mobilenet_ssd.pth"
    tool = str(ROOT / "tools" / "convert_caffe.py")
    proc = subprocess.run(
        [sys.executable, tool, "mobilenet_ssd", str(proto), str(model_file), str(dst)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"wrote {dst}" in proc.stdout and "score_thr=0.25" in proc.stdout
    ckpt = torch.load(dst, weights_only=True)
    assert ckpt["meta"]["classes"] == list(VOC_CLASSES) and ckpt["meta"]["config"].endswith(f"{CONFIG}.py")
    build_model(CONFIG).load_state_dict(ckpt["state_dict"], strict=True)
    model = init_detector(str(ROOT / "configs" / f"{CONFIG}.py"), str(dst))
    assert model.dataset_meta["classes"] == tuple(VOC_CLASSES)
    cut = tmp_path / "cut.caffemodel"
    data = model_file.read_bytes()
    cut.write_bytes(data[: data.index(b"conv1/dw") + 50])
    proc = subprocess.run(
        [sys.executable, tool, "mobilenet_ssd", str(proto), str(cut), str(dst)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode != 0 and proc.stderr.startswith(
        f"error: caffemodel '{cut}' is truncated: layer 'conv1/dw' (Convolution) at byte"
    )
    assert "Traceback" not in proc.stderr and torch.load(dst, weights_only=True)["meta"] == ckpt["meta"]  # kept


def test_missing_files_are_named(tmp_path):
    """The offline case for Caffe weights: the files are the user's, so a wrong path names which one is missing."""
    proto, model_file = write(tmp_path, "deploy")
    with pytest.raises(FileNotFoundError, match=r"prototxt '.*nowhere.prototxt' does not exist"):
        convert_caffe_mobilenet_ssd(tmp_path / "nowhere.prototxt", model_file)
    with pytest.raises((FileNotFoundError, CaffeFormatError), match=r"nowhere.caffemodel"):
        convert_caffe_mobilenet_ssd(proto, tmp_path / "nowhere.caffemodel")


def test_the_released_backbone_geometry_is_ssdkits_mobilenetv1():
    """The converter states the released network's conv1 .. conv13; they must be ssdkit's MobileNetV1 at width 1."""
    from ssdkit.convert.caffe import BACKBONE_CHANNELS, BACKBONE_STRIDES
    from ssdkit.models.backbones.mobilenet import CHANNELS, STRIDES

    assert (BACKBONE_STRIDES, BACKBONE_CHANNELS) == (STRIDES, CHANNELS)
