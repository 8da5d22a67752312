"""Plugins that live next to the configs: import them with ``custom_imports = dict(imports=['plugins.<name>'])``."""
