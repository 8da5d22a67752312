"""nn.Modules: backbones, necks, heads and the SSD detector (importing this registers them)."""

from .backbones import *  # noqa: F401,F403
from .detectors import SSD
from .heads import SSDHead
from .necks import *  # noqa: F401,F403

__all__ = ["SSD", "SSDHead"]
