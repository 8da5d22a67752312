"""COCO's formats: ``[x, y, w, h]`` boxes, and a pycocotools index built without its console chatter."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence

from pycocotools.coco import COCO


def xyxy_to_coco_bbox(box: Sequence[float]) -> list[float]:
    """One xyxy box -> COCO's ``[x, y, w, h]`` (floats, for json)."""
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    return [x1, y1, x2 - x1, y2 - y1]


def quiet_coco(dataset: dict | str) -> COCO:
    """A ``COCO`` index of an annotation dict or json file; pycocotools' progress prints are swallowed."""
    with contextlib.redirect_stdout(io.StringIO()):
        if isinstance(dataset, str):
            return COCO(dataset)
        coco = COCO()
        coco.dataset = dataset
        coco.createIndex()
    return coco
