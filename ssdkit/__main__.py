"""``python -m ssdkit <command>``: the ``ssdkit`` console command (:mod:`ssdkit.cli.main`)."""

from ssdkit.cli.main import main

main()
