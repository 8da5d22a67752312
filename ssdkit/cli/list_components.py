"""List every ssdkit registry, its entries and where each came from (ssdkit or a plugin)."""

from __future__ import annotations

import argparse
import json

from ssdkit.registry.listing import collect_components, format_components, load_config_plugins


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", help="apply this config's custom_imports first")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    if args.config:
        load_config_plugins(args.config)
    listing = collect_components()
    print(json.dumps(listing, indent=2) if args.json else format_components(listing))
