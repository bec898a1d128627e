"""synpat.gen: render procedural GLSL programs into images, shards and streams (no torch)."""

__version__ = "0.1.0"
