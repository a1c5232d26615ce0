"""Training: configs, losses, the trainer loop, checkpoints, evaluation, plots."""

from matml.train.config import RunConfig, TrainConfig, from_dict, load_config
from matml.train.evaluate import Evaluation, evaluate
from matml.train.linear import LinearFit, fit_linear
from matml.train.loss import error_sums, loss_terms, metrics_from_sums, weighted_loss
from matml.train.plots import learning_curve, parity_plot
from matml.train.trainer import History, Trainer

__all__ = [
    "Evaluation",
    "History",
    "LinearFit",
    "RunConfig",
    "TrainConfig",
    "Trainer",
    "error_sums",
    "evaluate",
    "fit_linear",
    "from_dict",
    "learning_curve",
    "load_config",
    "loss_terms",
    "metrics_from_sums",
    "parity_plot",
    "weighted_loss",
]
