"""The SSD detector: backbone -> neck -> head, with priors, target assignment, loss and postprocessing."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from mmengine.model import BaseModel
from mmengine.structures import InstanceData
from torch import Tensor

from ssdkit.core.protocols import BoxCoder, Loss, Matcher, Postprocessor, PriorGenerator, SparseMatcher
from ssdkit.core.targets import assign_targets, pad_ground_truth
from ssdkit.registry import (
    BACKBONES,
    BOX_CODERS,
    DETECTORS,
    HEADS,
    LOSSES,
    MATCHERS,
    NECKS,
    POSTPROCESSORS,
    PRIOR_GENERATORS,
)
from ssdkit.structures import DetSample, PriorGrid

from ..input_norm import wire_input_norm
from ..machine_policy import apply_winograd, check_channels_last, prefer_channels_last

_REDUCED = (torch.float16, torch.bfloat16)
#: the steps of ``forward(mode='predict')`` after the data preprocessor, as :meth:`SSD.predict_steps` yields them
PREDICT_STEPS = ("backbone", "neck", "head", "decode", "nms")


def _wired(cfg: dict, key: str, value, where: str) -> dict:
    """Fill ``cfg[key]`` from the parts; a config that already states a different value is an error."""
    cfg = dict(cfg)
    given = cfg.get(key)
    same = given is None or (list(given) == value if isinstance(value, list) else given == value)
    if not same:
        raise ValueError(
            f"config key {where}.{key}={given!r} contradicts the value wired from the other parts "
            f"({value!r}); remove the key from the config (ssdkit derives it)"
        )
    cfg[key] = value
    return cfg


@DETECTORS.register_module()
class SSD(BaseModel):
    """Single Shot MultiBox Detector.

    Channel counts, prior counts and the input normalisation are wired from the parts: the data
    preprocessor gets the backbone weights' normalisation (``mean``, ``std``, ``bgr_to_rgb``), the neck the backbone's
    ``out_channels``, the head the neck's ``out_channels``, the prior generator's
    ``num_priors_per_location`` and ``num_classes``.

    ``channels_last`` runs the convolutions in NHWC memory format (``True``), NCHW (``False``) or as
    :func:`~ssdkit.models.machine_policy.prefer_channels_last` chooses for the machine and the mode (``'auto'``:
    ``train()`` / ``eval()`` switch the format in place); outputs are the same. ``winograd`` makes the dense 3x3
    stride-1 convolutions :class:`~ssdkit.models.winograd.WinogradConv2d` (``True``; ``'auto'``: where
    :func:`~ssdkit.models.machine_policy.apply_winograd` finds NNPACK's kernels help); export, CUDA and bfloat16 run
    them as plain convs.

    ``forward(inputs[B, 3, H, W], data_samples, mode)``:
      * ``'tensor'``: ``(cls_logits [B, P, C+1], box_deltas [B, P, 4])`` in prior order;
      * ``'loss'``: ``dict(loss_cls, loss_box)`` from ``data_samples[i].gt_instances``;
      * ``'predict'``: the samples with ``pred_instances`` in original-image pixels.
    """

    def __init__(
        self,
        backbone: dict,
        neck: dict,
        head: dict,
        prior_generator: dict,
        num_classes: int,
        matcher: dict | None = None,
        box_coder: dict | None = None,
        loss: dict | None = None,
        postprocessor: dict | None = None,
        data_preprocessor: dict | None = None,
        channels_last: bool | str = "auto",
        winograd: bool | str = "auto",
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__(data_preprocessor=wire_input_norm(data_preprocessor, backbone), init_cfg=init_cfg)
        self.num_classes = num_classes
        self.backbone = BACKBONES.build(backbone)
        self.neck = NECKS.build(_wired(neck, "in_channels", list(self.backbone.out_channels), "model.neck"))
        self.prior_generator: PriorGenerator = PRIOR_GENERATORS.build(prior_generator)
        levels = len(self.neck.out_channels)
        if levels != self.prior_generator.num_levels:
            raise ValueError(
                f"model.neck gives {levels} prediction maps (out_channels {self.neck.out_channels}) but "
                f"model.prior_generator has {self.prior_generator.num_levels} levels "
                f"(model.prior_generator.aspect_ratios); make them agree"
            )
        head = _wired(head, "in_channels", list(self.neck.out_channels), "model.head")
        head = _wired(head, "num_priors_per_location", list(self.prior_generator.num_priors_per_location), "model.head")
        self.head = HEADS.build(_wired(head, "num_classes", num_classes, "model.head"))
        self.matcher: Matcher | SparseMatcher = MATCHERS.build(matcher or dict(type="SSDMatcher"))
        self.box_coder: BoxCoder = BOX_CODERS.build(box_coder or dict(type="SSDBoxCoder"))
        self.loss_fn: Loss = LOSSES.build(loss or dict(type="MultiBoxLoss"))
        self.postprocessor: Postprocessor = POSTPROCESSORS.build(postprocessor or dict(type="SSDPostprocessor"))
        self.winograd_convs = apply_winograd(self, winograd)  # how many convs run NNPACK's Winograd kernels
        check_channels_last(channels_last)
        self.auto_memory_format = channels_last == "auto"
        self.channels_last = False
        self.set_channels_last(
            self._auto_channels_last(self.training) if self.auto_memory_format else bool(channels_last)
        )

    def _auto_channels_last(self, training: bool) -> bool:
        return prefer_channels_last(self.backbone, training, winograd=self.winograd_convs > 0)

    def set_channels_last(self, on: bool) -> None:
        """Put the weights (and inputs from now on) in NHWC (``on``) or NCHW; parameters keep their identity."""
        if on != self.channels_last:
            self.to(memory_format=torch.channels_last if on else torch.contiguous_format)
            self.channels_last = on

    def train(self, mode: bool = True) -> SSD:
        """``nn.Module.train``; with ``channels_last='auto'`` also the memory format for the mode."""
        super().train(mode)
        if getattr(self, "auto_memory_format", False):
            self.set_channels_last(self._auto_channels_last(mode))
        return self

    def train_step(self, data, optim_wrapper) -> dict[str, Tensor]:
        """mmengine's train step, refusing a NaN or infinite loss before it reaches the weights."""
        with optim_wrapper.optim_context(self):
            data = self.data_preprocessor(data, True)
            losses = self._run_forward(data, mode="loss")
        for name, value in losses.items():
            if not torch.isfinite(value).all():
                from mmengine.logging import MessageHub

                it = MessageHub.get_current_instance().get_info("iter")
                ids = [s.metainfo.get("img_id", s.metainfo.get("img_path")) for s in data["data_samples"]]
                raise FloatingPointError(
                    f"{name} = {value.item() if value.numel() == 1 else value} at iteration "
                    f"{it if it is None else it + 1}; batch image ids: {ids}. Training stopped before the update; "
                    f"the last checkpoint is intact (try a lower lr, a longer warm-up, or check these images)"
                )
        parsed, log_vars = self.parse_losses(losses)
        optim_wrapper.update_params(parsed)
        return log_vars

    def extract_feats(self, inputs: Tensor) -> list[Tensor]:
        """``[B, 3, H, W]`` -> prediction maps."""
        return self.neck(self.backbone(self.in_layout(inputs)))

    def in_layout(self, inputs: Tensor) -> Tensor:
        """``inputs [B, 3, H, W]`` in the weights' memory format (NHWC when ``channels_last``)."""
        return inputs.contiguous(memory_format=torch.channels_last) if self.channels_last else inputs

    def priors_for(self, feats: Sequence[Tensor], inputs: Tensor, dtype: torch.dtype | None = None) -> Tensor:
        """``[P, 4]`` priors for these maps and this input size (cached by the generator), in ``dtype``
        (default the maps' dtype)."""
        return self.prior_generator(
            [f.shape[-2:] for f in feats], inputs.shape[-2:], inputs.device, dtype or feats[0].dtype
        )

    def grid_for(self, feats: Sequence[Tensor], inputs: Tensor) -> PriorGrid | None:
        """The priors' grid layout when the prior generator describes one (enables sparse matching)."""
        grid = getattr(self.prior_generator, "grid", None)
        return None if grid is None else grid([f.shape[-2:] for f in feats], inputs.shape[-2:], inputs.device)

    def forward(self, inputs: Tensor, data_samples: list[DetSample] | None = None, mode: str = "tensor"):
        if mode != "tensor" and data_samples is None:
            raise ValueError(f"SSD.forward(mode={mode!r}) needs data_samples")
        if mode == "predict":
            assert data_samples is not None
            for _ in self.predict_steps(inputs, data_samples):
                pass
            return data_samples
        if mode == "loss" and data_samples is not None:
            gt = self.ground_truth(data_samples, inputs.device)  # fail on bad annotations before the network runs
        feats = self.extract_feats(inputs)
        cls_logits, box_deltas = self.head(feats)
        if mode == "tensor":
            return cls_logits, box_deltas
        cls_logits, box_deltas, priors = self.float32_outputs_and_priors(cls_logits, box_deltas, feats, inputs)
        if mode == "loss":
            return self.loss(cls_logits, box_deltas, priors, gt, self.grid_for(feats, inputs))
        raise ValueError(f"SSD.forward: mode={mode!r}; valid: 'tensor', 'loss', 'predict'")

    @torch.no_grad()
    def predict_steps(self, inputs: Tensor, data_samples: list[DetSample]) -> Iterator[str]:
        """``forward(inputs [B, 3, H, W], data_samples, mode='predict')`` a step at a time: each step runs, then its
        name in :data:`PREDICT_STEPS` is yielded; after the last, ``data_samples`` hold ``pred_instances``.
        ``forward`` runs it through; the per-stage benchmark reads the clock at each yield."""
        maps = self.backbone(self.in_layout(inputs))
        yield "backbone"
        feats = self.neck(maps)
        yield "neck"
        cls_logits, box_deltas = self.head(feats)
        yield "head"
        cls_logits, box_deltas, priors = self.float32_outputs_and_priors(cls_logits, box_deltas, feats, inputs)
        boxes = self.decode(box_deltas, priors)
        yield "decode"
        self.postprocess(cls_logits, boxes, inputs, data_samples)
        yield "nms"

    def float32_outputs_and_priors(
        self, cls_logits: Tensor, box_deltas: Tensor, feats: Sequence[Tensor], inputs: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        """The head's outputs in float32 (mixed precision: match, encode, decode and score in float32) and the
        ``[P, 4]`` priors in that dtype, checked to be as many as the predictions."""
        if cls_logits.dtype in _REDUCED:
            cls_logits, box_deltas = cls_logits.float(), box_deltas.float()
        priors = self.priors_for(feats, inputs, cls_logits.dtype)
        if cls_logits.shape[1] != priors.shape[0]:
            raise RuntimeError(
                f"head gives {cls_logits.shape[1]} predictions but the prior generator "
                f"{priors.shape[0]} priors for maps {[tuple(f.shape[-2:]) for f in feats]}"
            )
        return cls_logits, box_deltas, priors

    def ground_truth(self, data_samples: list[DetSample], device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
        """Padded ``boxes [B, G, 4]``, ``labels [B, G]``, ``valid [B, G]``; bad annotations raise naming the image.

        Ignore-flagged objects (COCO crowd) are left out: they are for evaluation only.
        """
        boxes, labels = [], []
        for s in data_samples:
            gt = s.gt_instances
            keep = ~gt.ignore_flags.bool() if "ignore_flags" in gt else torch.ones(len(gt.labels), dtype=torch.bool)
            boxes.append(gt.bboxes[keep].to(device=device, dtype=torch.float32))
            labels.append(gt.labels[keep].to(device).long())
        try:
            return pad_ground_truth(boxes, labels, self.num_classes)
        except ValueError as err:
            ids = [s.metainfo.get("img_id", s.metainfo.get("img_path", i)) for i, s in enumerate(data_samples)]
            raise ValueError(f"{err} (batch image ids, in order: {ids})") from err

    def loss(
        self,
        cls_logits: Tensor,
        box_deltas: Tensor,
        priors: Tensor,
        gt: tuple[Tensor, Tensor, Tensor],
        grid: PriorGrid | None = None,
    ) -> dict[str, Tensor]:
        """Match, encode and apply the loss; ``gt`` from :meth:`ground_truth`, ``grid`` the priors' layout."""
        with torch.no_grad():
            t_labels, t_deltas = assign_targets(self.matcher, self.box_coder, priors, *gt, grid=grid)
        return self.loss_fn(cls_logits, box_deltas, t_labels, t_deltas)

    @torch.no_grad()
    def predict(
        self, cls_logits: Tensor, box_deltas: Tensor, priors: Tensor, inputs: Tensor, data_samples: list[DetSample]
    ) -> list[DetSample]:
        """Decode and postprocess the head's float32 outputs; sets each sample's ``pred_instances``."""
        return self.postprocess(cls_logits, self.decode(box_deltas, priors), inputs, data_samples)

    def decode(self, box_deltas: Tensor, priors: Tensor) -> Tensor:
        """``box_deltas [B, P, 4]`` and ``priors [P, 4]`` -> boxes ``[B, P, 4]`` xyxy in input pixels."""
        return self.box_coder.decode(box_deltas, priors.unsqueeze(0))

    @torch.no_grad()
    def postprocess(
        self, cls_logits: Tensor, boxes: Tensor, inputs: Tensor, data_samples: list[DetSample]
    ) -> list[DetSample]:
        """Score threshold, top-k, NMS and scaling to the original image (the postprocessor) of ``cls_logits
        [B, P, C+1]`` and decoded ``boxes [B, P, 4]`` (input pixels); sets each sample's ``pred_instances``."""
        h, w = inputs.shape[-2:]
        metas = [
            dict(
                img_shape=s.metainfo.get("img_shape", (h, w)),
                ori_shape=s.metainfo.get("ori_shape", s.metainfo.get("img_shape", (h, w))),
            )
            for s in data_samples
        ]
        for sample, det in zip(data_samples, self.postprocessor(cls_logits, boxes, metas), strict=True):
            sample.pred_instances = InstanceData(bboxes=det["boxes"], scores=det["scores"], labels=det["labels"])
        return data_samples
