#!/usr/bin/env python
"""List every ssdkit registry, its entries and where each came from (ssdkit or a plugin)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
for path in (str(REPO_ROOT), os.getcwd()):  # ssdkit and plugins/ from a checkout, custom_imports from cwd
    if path not in sys.path:
        sys.path.insert(0, path)

from ssdkit.registry.listing import collect_components, format_components, load_config_plugins  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", help="apply this config's custom_imports first")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    if args.config:
        load_config_plugins(args.config)
    listing = collect_components()
    print(json.dumps(listing, indent=2) if args.json else format_components(listing))


if __name__ == "__main__":
    main()
