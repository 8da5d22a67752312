"""Draw boxes with class names (and scores) on BGR images with OpenCV."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np


def colour(label: int) -> tuple[int, int, int]:
    """A stable, saturated BGR colour per class."""
    hue = (label * 47) % 180
    bgr = cv2.cvtColor(np.array([[[hue, 220, 255]]], np.uint8), cv2.COLOR_HSV2BGR)[0, 0]
    return int(bgr[0]), int(bgr[1]), int(bgr[2])


def draw_boxes(
    img: np.ndarray,
    boxes: np.ndarray,
    labels: Sequence[int],
    class_names: Sequence[str] | None = None,
    scores: Sequence[float] | None = None,
) -> np.ndarray:
    """A copy of ``img`` (HxWx3 uint8 BGR) with ``boxes [N, 4]`` xyxy drawn and labelled; each label sits above
    its box's top-left corner, moved inside the image where that corner is near an edge."""
    out = np.ascontiguousarray(img.copy())
    h_img, w_img = out.shape[:2]
    for i, (box, lab) in enumerate(zip(np.asarray(boxes, float).reshape(-1, 4), labels, strict=True)):
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        c = colour(int(lab))
        cv2.rectangle(out, (x1, y1), (x2, y2), c, 2)
        name = class_names[int(lab)] if class_names is not None and int(lab) < len(class_names) else str(int(lab))
        text = name if scores is None else f"{name} {float(scores[i]):.2f}"
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.4, 1)
        y = min(max(y1, th + 3), h_img)
        x = min(max(x1, 0), max(w_img - tw - 2, 0))
        cv2.rectangle(out, (x, y - th - 3), (x + tw + 2, y), c, -1)
        cv2.putText(out, text, (x + 1, y - 2), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return out


#: scores below this multiple of the uniform 1 / (C + 1) are "near uniform" (a model that has not learned yet)
UNIFORM_MARGIN = 1.25


def near_uniform(scores, num_classes: int) -> bool:
    """True when there are detections and every score (``[N]``, a tensor or an array) is under
    ``UNIFORM_MARGIN / (num_classes + 1)``: the class scores of an untrained or barely trained detector, about
    equal over the classes and background. Such detections are not drawn by default: a wall of boxes says nothing."""
    return len(scores) > 0 and float(scores.max()) < UNIFORM_MARGIN / (num_classes + 1)


def uniform_note(images: int, num_classes: int, flag: str = "--draw-uniform") -> str:
    """The line that says why nothing was drawn on ``images`` images."""
    return (
        f"{images} images: every score is under {UNIFORM_MARGIN:g} x the uniform 1/{num_classes + 1} of "
        f"{num_classes} classes and background, as from a model that has not learned yet; their detections are "
        f"kept but not drawn ({flag} draws them)"
    )
