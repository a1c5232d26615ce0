"""The built-in demo: an EMT copper data set made by matml itself, and the main job."""

from matml.demo.emt_copper import make_emt_copper

__all__ = ["make_emt_copper"]
