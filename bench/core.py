"""Core SSD hot paths against torchvision's own code on the same tensors, in the same run.

    python bench/core.py [--batch 32] [--max-gt 20] [--threads N]

Prints ssdkit and torchvision times and the ratio for target assignment (match + encode) and for
postprocessing (decode + score threshold + per-class top-k + NMS + cap), plus the largest
intermediate tensor of the assignment against the B x P x G budget. Postprocessing is timed twice:
"dense" random scores (every class of every prior above the 0.01 threshold: 400 NMS candidates per
image and class, the NMS kernel dominates) and "trained-like" background-dominant scores.
Assignment matches on the prior grid (only the priors near each gt are visited); the dense
[B, G, P] path is timed too, and the two results are checked equal.
Targets: assignment >= 5x torchvision's per-image loop, postprocessing >= 1.5x.
"""

from __future__ import annotations

import argparse

import torch
from torchvision.models.detection import _utils as tv_utils
from torchvision.models.detection.ssd import SSD
from torchvision.ops import box_iou

from ssdkit.core import SSDBoxCoder, SSDMatcher, SSDPostprocessor, SSDPriorGenerator, assign_targets, pad_ground_truth

from common import best_of, largest_tensor

FEATURES = [(38, 38), (19, 19), (10, 10), (5, 5), (3, 3), (1, 1)]
TV_PRIORS = dict(
    aspect_ratios=[[2], [2, 3], [2, 3], [2, 3], [2], [2]],
    scales=[0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05],
    steps=[8, 16, 32, 64, 100, 300],
    clip="wh",
)


def make_inputs(batch: int, max_gt: int, num_classes: int = 20, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    counts = torch.randint(1, max_gt + 1, (batch,), generator=gen).tolist()
    counts[0] = max_gt
    gts, labels = [], []
    for n in counts:
        wh = torch.rand(n, 2, generator=gen) * 230 + 10
        xy = torch.rand(n, 2, generator=gen) * (300 - wh)
        gts.append(torch.cat((xy, xy + wh), 1))
        labels.append(torch.randint(0, num_classes, (n,), generator=gen))
    return gts, labels


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--max-gt", type=int, default=20)
    ap.add_argument("--classes", type=int, default=20)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: leave as is)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    generator = SSDPriorGenerator(**TV_PRIORS)
    priors, grid = generator(FEATURES, (300, 300)), generator.grid(FEATURES, (300, 300))
    p = priors.shape[0]
    gts, labels = make_inputs(args.batch, args.max_gt, args.classes)
    matcher, coder = SSDMatcher(0.5), SSDBoxCoder()
    tv_matcher, tv_coder = tv_utils.SSDMatcher(0.5), tv_utils.BoxCoder(weights=(10.0, 10.0, 5.0, 5.0))

    def ours_assign(on_grid: bool = True):
        boxes, lab, valid = pad_ground_truth(gts, labels, args.classes)
        return assign_targets(matcher, coder, priors, boxes, lab, valid, grid=grid if on_grid else None)

    def tv_assign():
        out = []
        for g, lab in zip(gts, labels, strict=True):
            m = tv_matcher(box_iou(g, priors))
            fg = torch.where(m >= 0)[0]
            cls_t = torch.zeros(p, dtype=torch.long)
            cls_t[fg] = lab[m[fg]] + 1
            out.append((cls_t, tv_coder.encode_single(g[m[fg]], priors[fg])))
        return out

    gen = torch.Generator().manual_seed(1)
    dense = torch.randn(args.batch, p, args.classes + 1, generator=gen) * 3
    trained = torch.randn(args.batch, p, args.classes + 1, generator=gen) * 2
    trained[..., 0] += 10  # background-dominant, as a trained detector: ~30 candidates per class
    deltas = torch.randn(args.batch, p, 4, generator=gen) * 0.5
    logits = dense
    post = SSDPostprocessor()
    metas = [dict(img_shape=(300, 300))] * args.batch
    stub = type(
        "Stub",
        (),
        dict(box_coder=tv_coder, score_thresh=0.01, nms_thresh=0.45, detections_per_img=200, topk_candidates=400),
    )()

    def ours_post():
        return post(logits, coder.decode(deltas, priors.unsqueeze(0)), metas)

    def tv_post():
        head = dict(cls_logits=logits, bbox_regression=deltas)
        return SSD.postprocess_detections(stub, head, [priors] * args.batch, [(300, 300)] * args.batch)

    with torch.no_grad():
        t_ours_a, t_tv_a = best_of(ours_assign), best_of(tv_assign)
        t_dense_a = best_of(lambda: ours_assign(on_grid=False))
        t_ours_p, t_tv_p = best_of(ours_post, repeats=5), best_of(tv_post, repeats=5)
        logits = trained
        t_ours_q, t_tv_q = best_of(ours_post), best_of(tv_post)
        biggest, op = largest_tensor(ours_assign)
        check = [a.equal(b) for a, b in zip(ours_assign(), ours_assign(on_grid=False), strict=True)]
    g = max(len(x) for x in gts)
    budget = args.batch * p * g
    from ssdkit.utils.cpu import describe_cpu

    print(describe_cpu())
    print(
        f"batch {args.batch} x {p} priors x up to {g} gt boxes, {args.classes} classes, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    print(f"{'':28s}{'ssdkit':>10s}{'torchvision':>13s}{'speed-up':>10s}{'target':>8s}")
    print(
        f"{'assignment (match+encode)':28s}{t_ours_a * 1e3:8.1f}ms{t_tv_a * 1e3:11.1f}ms"
        f"{t_tv_a / t_ours_a:9.1f}x{'>= 5x':>8s}"
    )
    print(f"{'  same, dense [B,G,P] IoU':28s}{t_dense_a * 1e3:8.1f}ms{t_tv_a * 1e3:11.1f}ms{t_tv_a / t_dense_a:9.1f}x")
    print(
        f"{'postprocess, dense scores':28s}{t_ours_p * 1e3:8.1f}ms{t_tv_p * 1e3:11.1f}ms"
        f"{t_tv_p / t_ours_p:9.1f}x{'>= 1.5x':>8s}"
    )
    print(
        f"{'postprocess, trained-like':28s}{t_ours_q * 1e3:8.1f}ms{t_tv_q * 1e3:11.1f}ms"
        f"{t_tv_q / t_ours_q:9.1f}x{'>= 1.5x':>8s}"
    )
    print(
        f"largest assignment intermediate: {biggest} elements ({op}); budget B*P*G = {budget} "
        f"({'within' if biggest <= budget else 'OVER'} budget); grid result == dense result: {all(check)}"
    )


if __name__ == "__main__":
    main()
