"""synpat.audio: transfer an image encoder to spectrograms, audio features and data sets, fine-tuning,
probing, metrics and the HEAR API (needs torch and torchaudio)."""
