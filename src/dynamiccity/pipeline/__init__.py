"""Runs and artifacts, one floor above the models: training a VAE or a DiT, encoding latents, evaluating,
reconstructing and generating. Every command of the CLI is one call here."""

from dynamiccity.pipeline.conditioning import ConditionRequest
from dynamiccity.pipeline.datasets import DataSpec
from dynamiccity.pipeline.dit_run import DiTRunConfig
from dynamiccity.pipeline.encode import encode_latents
from dynamiccity.pipeline.evaluate import evaluate_vae
from dynamiccity.pipeline.generate import SampleSpec, generate, sample
from dynamiccity.pipeline.latents import LatentManifest, LatentSet, read_manifest
from dynamiccity.pipeline.recipes import RunRequest, dit_run_config, vae_run_config
from dynamiccity.pipeline.reconstruct import reconstruct
from dynamiccity.pipeline.runs import Trained, TrainedDiT, load_dit, load_vae
from dynamiccity.pipeline.training import resumed_config, train_dit, train_vae
from dynamiccity.pipeline.vae_run import LossSpec, VAERunConfig

__all__ = [
    "ConditionRequest", "DataSpec", "DiTRunConfig", "LatentManifest", "LatentSet", "LossSpec", "RunRequest", "SampleSpec",
    "Trained", "TrainedDiT", "VAERunConfig", "dit_run_config", "encode_latents", "evaluate_vae", "generate",
    "load_dit", "load_vae", "read_manifest", "reconstruct", "resumed_config", "sample", "train_dit",
    "train_vae", "vae_run_config",
]  # fmt: skip
