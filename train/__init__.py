"""synpat.train: MAE pre-training, loaders, transfer to audio and fine-tuning (needs torch)."""
