"""Core SSD hot paths against torchvision's own code on the same tensors, in the same run.

    python bench/core.py [--batch 32] [--max-gt 20] [--repeats 5] [--threads N]

Prints ssdkit and torchvision times and the ratio for target assignment (match + encode) and for
postprocessing (decode + score threshold + per-class top-k + NMS + cap), plus the largest
intermediate tensor of the assignment against the B x P x G budget. Postprocessing is timed twice:
"dense" random scores (every class of every prior above the 0.01 threshold: 400 NMS candidates per
image and class, the NMS kernel dominates) and "trained-like" background-dominant scores.
Assignment matches on the prior grid (only the priors near each gt are visited); the dense
[B, G, P] path is timed too, and the two results are checked equal. Then SSDMatcher(bipartite='greedy')
(the released Caffe SSD's greedy bipartite matching) against SSDMatcher's default, on the same inputs and
on a crowded batch (--crowded-gt boxes in every image), with the number of gts each leaves without a prior.
Targets: assignment >= 5x torchvision's per-image loop, postprocessing >= 1.5x.
"""

from __future__ import annotations

import argparse

import torch
from torchvision.models.detection import _utils as tv_utils
from torchvision.models.detection.ssd import SSD
from torchvision.ops import box_iou

from ssdkit.core import SSDBoxCoder, SSDMatcher, SSDPostprocessor, SSDPriorGenerator, assign_targets, pad_ground_truth

from common import best_of, emit, largest_tensor

FEATURES = [(38, 38), (19, 19), (10, 10), (5, 5), (3, 3), (1, 1)]
TV_PRIORS = dict(
    aspect_ratios=[[2], [2, 3], [2, 3], [2, 3], [2], [2]],
    scales=[0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05],
    steps=[8, 16, 32, 64, 100, 300],
    clip="wh",
)


def make_inputs(batch: int, max_gt: int, num_classes: int = 20, seed: int = 0, min_gt: int = 1):
    gen = torch.Generator().manual_seed(seed)
    counts = torch.randint(min_gt, max_gt + 1, (batch,), generator=gen).tolist()
    counts[0] = max_gt
    gts, labels = [], []
    for n in counts:
        wh = torch.rand(n, 2, generator=gen) * 230 + 10
        xy = torch.rand(n, 2, generator=gen) * (300 - wh)
        gts.append(torch.cat((xy, xy + wh), 1))
        labels.append(torch.randint(0, num_classes, (n,), generator=gen))
    return gts, labels


def assignment(args: argparse.Namespace, priors, grid, gts, labels) -> None:
    """Target assignment, ssdkit (on the grid and dense) against torchvision's per-image loop; each figure printed
    when measured, then the largest intermediate against the B x P x G budget."""
    p = priors.shape[0]
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

    with torch.no_grad():
        t_ours, t_tv = best_of(ours_assign, args.repeats), best_of(tv_assign, args.repeats)
        emit(
            f"{'assignment (match+encode)':28s}{t_ours * 1e3:8.1f}ms{t_tv * 1e3:11.1f}ms"
            f"{t_tv / t_ours:9.1f}x{'>= 5x':>8s}"
        )
        t_dense = best_of(lambda: ours_assign(on_grid=False), args.repeats)
        emit(f"{'  same, dense [B,G,P] IoU':28s}{t_dense * 1e3:8.1f}ms{t_tv * 1e3:11.1f}ms{t_tv / t_dense:9.1f}x")
        biggest, op = largest_tensor(ours_assign)
        check = [a.equal(b) for a, b in zip(ours_assign(), ours_assign(on_grid=False), strict=True)]
    budget = args.batch * p * max(len(x) for x in gts)
    emit(
        f"largest assignment intermediate: {biggest} elements ({op}); budget B*P*G = {budget} "
        f"({'within' if biggest <= budget else 'OVER'} budget); grid result == dense result: {all(check)}"
    )


def unmatched_gts(matcher: SSDMatcher, boxes, priors, valid, grid) -> int:
    """Valid gts that no prior is matched to."""
    img, _, code = matcher.match_sparse(boxes, priors, valid, grid)
    hit = torch.zeros_like(valid)
    hit[img[code >= 0], code[code >= 0]] = True
    return int((valid & ~hit).sum())


def bipartite(args: argparse.Namespace, priors, grid, cases) -> None:
    """Assignment with greedy bipartite matching against SSDMatcher's default (torchvision's forcing), on the grid
    and dense, per case of ground truth; each figure printed when measured, then the gts left without a prior."""
    coder = SSDBoxCoder()
    greedy, default = SSDMatcher(0.5, bipartite="greedy"), SSDMatcher(0.5)
    emit(f"{'':28s}{'greedy':>10s}{'default':>13s}{'ratio':>10s}")
    for what, (gts, labels) in cases:
        padded = pad_ground_truth(gts, labels, args.classes)
        for path, on in (("grid", grid), ("dense", None)):

            def run(matcher: SSDMatcher, on=on, padded=padded):
                return assign_targets(matcher, coder, priors, *padded, grid=on)

            with torch.no_grad():
                t_greedy = best_of(lambda: run(greedy), args.repeats)
                t_default = best_of(lambda: run(default), args.repeats)
            emit(
                f"{what + ', ' + path:28s}{t_greedy * 1e3:8.1f}ms{t_default * 1e3:11.1f}ms{t_greedy / t_default:9.1f}x"
            )
        boxes, _, valid = padded
        left = [unmatched_gts(m, boxes, priors, valid, grid) for m in (greedy, default)]
        same = greedy(boxes, priors, valid, grid=grid).equal(greedy(boxes, priors, valid))
        emit(
            f"  {what}: gts without a prior: greedy {left[0]}, default {left[1]} of {int(valid.sum())}; "
            f"greedy grid == dense: {same}"
        )


def postprocessing(args: argparse.Namespace, priors) -> None:
    """Decode + postprocess, ssdkit against torchvision's ``postprocess_detections``, on dense random scores and on
    background-dominant (trained-like) ones; each figure printed when measured."""
    gen = torch.Generator().manual_seed(1)
    p = priors.shape[0]
    dense = torch.randn(args.batch, p, args.classes + 1, generator=gen) * 3
    trained = torch.randn(args.batch, p, args.classes + 1, generator=gen) * 2
    trained[..., 0] += 10  # background-dominant, as a trained detector: ~30 candidates per class
    deltas = torch.randn(args.batch, p, 4, generator=gen) * 0.5
    coder, post, tv_coder = SSDBoxCoder(), SSDPostprocessor(), tv_utils.BoxCoder(weights=(10.0, 10.0, 5.0, 5.0))
    metas = [dict(img_shape=(300, 300))] * args.batch
    stub = type(
        "Stub",
        (),
        dict(box_coder=tv_coder, score_thresh=0.01, nms_thresh=0.45, detections_per_img=200, topk_candidates=400),
    )()
    for what, logits in (("dense scores", dense), ("trained-like", trained)):

        def ours_post(logits=logits):
            return post(logits, coder.decode(deltas, priors.unsqueeze(0)), metas)

        def tv_post(logits=logits):
            head = dict(cls_logits=logits, bbox_regression=deltas)
            return SSD.postprocess_detections(stub, head, [priors] * args.batch, [(300, 300)] * args.batch)

        with torch.no_grad():
            t_ours, t_tv = best_of(ours_post, args.repeats), best_of(tv_post, args.repeats)
        emit(
            f"{'postprocess, ' + what:28s}{t_ours * 1e3:8.1f}ms{t_tv * 1e3:11.1f}ms{t_tv / t_ours:9.1f}x{'>= 1.5x':>8s}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--max-gt", type=int, default=20)
    ap.add_argument("--classes", type=int, default=20)
    ap.add_argument("--crowded-gt", type=int, default=50, help="gt boxes in every image of the crowded case")
    ap.add_argument("--repeats", type=int, default=5, help="timed calls per figure (median)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: leave as is)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from ssdkit.utils.cpu import describe_cpu

    generator = SSDPriorGenerator(**TV_PRIORS)
    priors, grid = generator(FEATURES, (300, 300)), generator.grid(FEATURES, (300, 300))
    gts, labels = make_inputs(args.batch, args.max_gt, args.classes)
    emit(describe_cpu())
    emit(
        f"batch {args.batch} x {priors.shape[0]} priors x up to {max(len(x) for x in gts)} gt boxes, "
        f"{args.classes} classes, torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    emit(f"{'':28s}{'ssdkit':>10s}{'torchvision':>13s}{'speed-up':>10s}{'target':>8s}")
    assignment(args, priors, grid, gts, labels)
    postprocessing(args, priors)
    crowded = make_inputs(args.batch, args.crowded_gt, args.classes, seed=2, min_gt=args.crowded_gt)
    bipartite(args, priors, grid, [(f"up to {args.max_gt} gts", (gts, labels)), (f"{args.crowded_gt} gts", crowded)])


if __name__ == "__main__":
    main()
