"""PathoDesk: whole-slide images, AI annotation and expert review in one platform."""

__version__ = "0.1.0"
