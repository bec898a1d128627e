"""HEAR API (filled in by the audio stage)."""
