"""The per-image sample passed from datasets through the model to metrics (mmdetection-style)."""

from __future__ import annotations

from mmengine.structures import BaseDataElement, InstanceData


class DetSample(BaseDataElement):
    """One image's annotations and predictions.

    metainfo: ``img_id``, ``img_path``, ``ori_shape`` (H, W) of the file, ``img_shape`` (H, W) of the
    network input. Data fields:

    * ``gt_instances``: ``InstanceData`` with ``bboxes [G, 4]`` xyxy in network-input pixels,
      ``labels [G]`` long (0-based classes) and optionally ``ignore_flags [G]`` bool (VOC difficult,
      COCO crowd: neither true nor false positives in evaluation).
    * ``pred_instances``: ``InstanceData`` with ``bboxes [N, 4]`` xyxy in original-image pixels,
      ``scores [N]``, ``labels [N]`` (0-based), by decreasing score.
    """

    @property
    def gt_instances(self) -> InstanceData:
        return self._gt_instances

    @gt_instances.setter
    def gt_instances(self, value: InstanceData) -> None:
        self.set_field(value, "_gt_instances", dtype=InstanceData)

    @property
    def pred_instances(self) -> InstanceData:
        return self._pred_instances

    @pred_instances.setter
    def pred_instances(self, value: InstanceData) -> None:
        self.set_field(value, "_pred_instances", dtype=InstanceData)
