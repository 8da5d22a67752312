"""The one json format ssdkit writes detections in (``tools/infer.py`` and ``tools/test.py --out``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def detection_record(
    image: str, boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray, class_names: Sequence[str]
) -> dict:
    """One image's entry: ``{"image": path or name, "detections": [{"box": [x1, y1, x2, y2], "score", "label",
    "name"}]}``, boxes xyxy in original-image pixels (2 decimals), scores to 4 decimals, labels 0-based."""

    def name(label: int) -> str:
        return class_names[label] if 0 <= label < len(class_names) else str(label)

    return dict(
        image=image,
        detections=[
            dict(box=[round(float(v), 2) for v in box], score=round(float(s), 4), label=int(lab), name=name(int(lab)))
            for box, s, lab in zip(np.asarray(boxes).reshape(-1, 4), scores, labels, strict=True)
        ],
    )
