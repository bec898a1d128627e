"""synpat.core: what every stage uses (errors, atomic writes, progress, settings, ranks and devices). No torch."""
