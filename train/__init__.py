"""synpat.train: MAE pre-training on rendered patterns (needs torch): ViT shapes, the MAE, loaders for
shards and the live stream, the torch and DeepSpeed engines, checkpoints, export and reconstructions.
The CUDA-GL interop it feeds on lives in synpat.gen.gl_cuda (docs/design.md §2, §4)."""
