"""ssdkit: the SSD family of single-shot detectors as registered, swappable components."""

__version__ = "0.1.0"
