"""Training runs and their artifacts, one floor above the models: run configs and recipes, the training tasks,
loading a trained model back, and encoding latents for the DiT. Nothing here samples."""
