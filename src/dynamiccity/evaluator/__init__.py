"""Feature extractors for generation metrics (paper A.2): a 3D voxel autoencoder and a 2D render network,
trained on real scenes (`dynamiccity train-evaluator`)."""

from dynamiccity.evaluator.config import HEADS, EvaluatorConfig
from dynamiccity.evaluator.model import Evaluator, EvaluatorOutput, bev_classes
from dynamiccity.evaluator.render import protocol, render_window

__all__ = [
    "HEADS",
    "Evaluator",
    "EvaluatorConfig",
    "EvaluatorOutput",
    "bev_classes",
    "protocol",
    "render_window",
]
