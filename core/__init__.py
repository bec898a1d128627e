"""synpat.core: what every stage uses: errors, atomic writes, writer locks, child processes, progress,
settings (the one way commands read them), ranks and devices. No torch at import."""
