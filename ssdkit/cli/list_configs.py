"""List ssdkit's config names (``ssdkit train <name>`` takes them), the folder they are read from, and how to list
the registries' entries.

    ssdkit list [--all]
"""

from __future__ import annotations

import argparse

from ssdkit.engine.config_names import configs_dir, list_configs


def main(argv: list[str] | None = None) -> list[str]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--all", action="store_true", help="also the configs in folders (examples/, demo/)")
    args = ap.parse_args(argv)
    names = [n for n in list_configs() if args.all or "/" not in n]
    print(f"configs in {configs_dir()}:")
    for name in names:
        print(f"  {name}")
    if not args.all:
        print("(`ssdkit list --all` adds examples/ and demo/; `ssdkit list components` lists every registry)")
    return names
