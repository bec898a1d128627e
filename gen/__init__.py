"""synpat.gen: render procedural GLSL programs into images, shards and streams (no torch)."""
