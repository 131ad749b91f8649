"""The public Python API and what the CLI calls, over the rooms below it: `runs` (training, loading, encoding),
`generation`, `editing` and `evaluation`. Every command of the CLI is one call here or in those rooms."""

from dynamiccity.evaluation.reconstruct import reconstruct
from dynamiccity.evaluation.vae import evaluate_vae
from dynamiccity.generation.conditioning import ConditionRequest
from dynamiccity.generation.features import Features, Repaint, Steering
from dynamiccity.generation.generate import generate
from dynamiccity.generation.sampling import SampleSpec
from dynamiccity.pipeline.sample import sample
from dynamiccity.runs.datasets import DataSpec
from dynamiccity.runs.dit import DiTRunConfig
from dynamiccity.runs.encode import encode_latents
from dynamiccity.runs.latents import LatentManifest, LatentSet, read_manifest
from dynamiccity.runs.loading import Trained, TrainedDiT, load_dit, load_vae
from dynamiccity.runs.recipes import RunRequest, dit_run_config, vae_run_config
from dynamiccity.runs.training import resumed_config, train_dit, train_vae
from dynamiccity.runs.vae import LossSpec, VAERunConfig

__all__ = [
    "ConditionRequest", "DataSpec", "DiTRunConfig", "Features", "LatentManifest", "LatentSet", "LossSpec",
    "Repaint", "RunRequest", "SampleSpec", "Steering", "Trained", "TrainedDiT", "VAERunConfig",
    "dit_run_config", "encode_latents", "evaluate_vae", "generate", "load_dit", "load_vae", "read_manifest",
    "reconstruct", "resumed_config", "sample", "train_dit", "train_vae", "vae_run_config",
]  # fmt: skip
