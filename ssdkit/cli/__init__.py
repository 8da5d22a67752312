"""The command line: ``ssdkit <command>`` (:mod:`ssdkit.cli.main`) and the modules behind each command, which
``tools/*.py`` of a clone run too. Each module parses its own arguments in ``main(argv)``."""
