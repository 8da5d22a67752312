"""Print feature-map sizes, prior count, head outputs, parameters, GFLOPs and backbone weights of configs.

    python tools/model_info.py configs/ssd300_vgg16_voc0712.py [more configs ...]
    python tools/model_info.py            # every top-level config
    ssdkit info ssd300_vgg16_voc0712      # configs by name

GFLOPs are mmengine's count (one multiply-add = one FLOP), for one image at the config's input size. "weights" is
where the backbone's pretrained weights come from (``none``: from scratch, or a whole-detector checkpoint).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ssdkit.apis.model_info import model_info
from ssdkit.engine.config import one_line_errors
from ssdkit.engine.config_names import list_configs


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("configs", nargs="*", help="config files or names (default: every top-level config)")
    args = ap.parse_args(argv)
    configs = args.configs or [n for n in list_configs() if "/" not in n]
    with one_line_errors(FileNotFoundError):
        _print_table(configs)


def _print_table(configs: list[str]) -> None:
    print(
        f"{'config':34s}{'input':>6s}  {'maps':28s}{'priors':>7s}{'head P':>7s}{'params M':>9s}{'GFLOPs':>8s}  weights"
    )
    for c in configs:
        i = model_info(c)
        maps = ",".join(str(h) for h, _ in i["maps"])
        print(
            f"{Path(c).stem:34s}{i['input_size']:6d}  {maps:28s}{i['priors']:7d}{i['head_outputs']:7d}"
            f"{i['params_m']:9.2f}{i['gflops']:8.2f}  {i['weights']}"
        )
        if i["priors"] != i["head_outputs"]:
            raise SystemExit(f"{c}: {i['priors']} priors but {i['head_outputs']} head outputs")
