"""synpat.audio: transfer an image encoder to spectrograms, audio features and clip sets, fine-tuning,
probing, metrics, the HEAR API, small audio tasks from sound engines (synpat-audio-tasks) and
synpat-experiment, which also renders through synpat.gen (needs torch and torchaudio; docs/design.md §2)."""
