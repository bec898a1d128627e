"""synpat.train: MAE pre-training on rendered patterns: model, loaders, the training loop, export,
reconstructions and CUDA-GL interop (needs torch)."""
