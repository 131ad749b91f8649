"""Evaluating trained models: a VAE's reconstructions, generated scenes against real ones, forecasts, and which
conditions a DiT listens to."""
