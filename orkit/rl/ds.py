r"""DS: train a regularized policy by back-propagating the loss through the simulator.

"Direct backprop" (Madeka et al. 2022; Alvo, Russo & Kanoria 2023, HDPO; DeepStock's DS,
paper.md section 4). The simulator is differentiable in the orders, so the DeepStock loss of a
minibatch of training trajectories is a differentiable function of the network's weights:

.. code-block:: text

    for epoch = 1, 2, ...:
        for each minibatch B of training trajectories (batch_size trajectories):
            ledger = simulate(policy, B, differentiable=True)      # the whole horizon, unrolled
            loss   = mean over B of the per-day cost after warm-up  # DeepStock loss
            Adam step on loss, gradient norm clipped at 5
        validation loss (orkit.evaluation.evaluate, lean ledger)
        ReduceLROnPlateau on it; keep the best weights; stop after 30 epochs without improvement
    restore the best weights

Data-parallel (``torchrun``, :mod:`orkit.rl.distributed`): each process simulates a
contiguous shard of every minibatch and back-propagates its share of the loss; the gradients
are summed over the processes before the clip, so every process takes the one-process step.

Network: MLP with ELU hidden layers and ReLU output, the output bias initialised to
``initial_action_bias * action_range``; one regularization head (None / Base / Coeff / Both).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from orkit.core.errors import ValidationError
from orkit.core.problem import InventoryProblem
from orkit.core.validation import check_float, check_int
from orkit.evaluation import per_sku_loss
from orkit.rl._training import TrainingRun, adam, generator_for, limit_threads, setup, steps_since_improvement
from orkit.rl.networks import NetworkConfig
from orkit.rl.policy import NeuralEstimator, TrainingResult
from orkit.rl.rollout import subset_input, subset_problem
from orkit.sim import simulate

__all__ = ["DSConfig", "train_ds", "DSPolicy"]

log = logging.getLogger(__name__)


@dataclass
class DSConfig(NetworkConfig):
    """Hyper-parameters of DS (paper.md section 4; search space in brackets)."""

    hidden_sizes: tuple[int, ...] = (64, 64)
    """Hidden layer sizes [{[32,32], [64,64], [128,128]}]."""
    activation: str = "elu"
    """Hidden-layer activation (paper: ELU)."""
    output_activation: str = "relu"
    """Output activation (paper: ReLU)."""
    batch_size: int = 10
    """Trajectories per gradient step [{5, 10}]."""
    learning_rate: float = 3e-3
    """Adam step size [log-uniform 4e-4 .. 1e-1; above 1e-2 training often diverges here, as
    the output layer works in fractions of the action range]."""
    plateau_factor: float = 0.8
    """ReduceLROnPlateau: the learning rate is multiplied by this on a plateau [U(0.5, 0.95)]."""
    plateau_patience: int = 10
    """ReduceLROnPlateau: epochs without validation improvement before lowering the rate."""
    max_grad_norm: float = 5.0
    """Gradient norm clip (paper: 5)."""
    max_epochs: int = 1000
    """Upper bound on epochs (early stopping usually ends training first)."""
    early_stopping_patience: int = 30
    """Stop after this many epochs without a better validation loss (paper: 30)."""
    checkpoint_every: int = 1
    """Epochs between training-state checkpoints (with ``checkpoint_dir``)."""

    def check(self) -> None:
        super().check()
        check_int("batch_size", self.batch_size, minimum=1)
        check_float("learning_rate", self.learning_rate, minimum=0, strict_minimum=True)
        check_float("plateau_factor", self.plateau_factor, minimum=0, strict_minimum=True)
        if self.plateau_factor >= 1:
            raise ValidationError(f"plateau_factor must be < 1, got {self.plateau_factor:g}")
        check_int("plateau_patience", self.plateau_patience, minimum=0)
        check_float("max_grad_norm", self.max_grad_norm, minimum=0, strict_minimum=True)
        check_int("max_epochs", self.max_epochs, minimum=0)
        check_int("early_stopping_patience", self.early_stopping_patience, minimum=1)
        check_int("checkpoint_every", self.checkpoint_every, minimum=1)


@limit_threads(DSConfig)
def train_ds(
    train: Any,
    validation: Any,
    problem: InventoryProblem,
    regularization: Any = "base",
    config: DSConfig | dict | None = None,
    *,
    warm_start: Any = None,
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    callback: Callable[[dict[str, Any]], Any] | None = None,
) -> TrainingResult:
    """Train a regularized policy with DS; see the module docstring.

    Parameters
    ----------
    train, validation : Dataset or array of shape (n_skus, n_periods)
        Training trajectories (gradient steps) and validation trajectories (learning-rate
        schedule, early stopping, best weights).
    problem : InventoryProblem
    regularization : {"none", "base", "coeff", "both"} or RegularizationHead, default="base"
    config : DSConfig or dict, optional
    warm_start : Policy, optional
        Imitate this policy before training (:mod:`orkit.rl.warm_start`).
    checkpoint_dir : str or Path, optional
        Training state saved there every ``checkpoint_every`` epochs; the final policy in
        ``checkpoint_dir/policy``.
    resume : bool, default=False
        Continue from the training state in ``checkpoint_dir``.
    callback : callable, optional
        Called with each epoch's history entry; returning ``False`` stops training.

    Returns
    -------
    TrainingResult
    """
    s = setup(train, validation, problem, regularization, config, DSConfig, checkpoint_dir)
    config, network = s.config, s.network
    optimizer = adam(network.parameters(), config.learning_rate)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="min", factor=config.plateau_factor, patience=config.plateau_patience
    )
    generator = generator_for(config.seed)
    n_train = s.train_input.n_skus
    run = TrainingRun("ds", s, problem, {"network": network, "optimizer": optimizer, "scheduler": scheduler,
                                         "generator": generator}, callback=callback)
    epoch = run.start(warm_start=warm_start, resume=resume, counters={"epoch": 0},
                      first_entry={"epoch": 0, "train_loss": None, "validation_loss": None,
                                   "learning_rate": config.learning_rate})["epoch"]

    def patience_left() -> bool:  # epochs since the best validation loss, read from the history
        return steps_since_improvement(run.history, "epoch") < config.early_stopping_patience

    while epoch < config.max_epochs and patience_left() and not diverged(run.history):
        epoch += 1
        # ---- one epoch: back-propagate the loss of each minibatch of trajectories through the simulator
        losses, skipped = [], 0
        for batch in torch.randperm(n_train, generator=generator).split(config.batch_size):
            if s.dp.active:  # this process's shard of the minibatch; gradients summed over the processes
                loss = sharded_step(run, batch, optimizer, problem, n_train)
                if loss is None:  # no SKU of the minibatch has a scored period
                    continue
                if torch.isfinite(loss):
                    losses.append(loss.item())
                else:
                    skipped += 1
                continue
            ledger = simulate(run.policy, subset_input(s.train_input, batch), subset_problem(problem, batch, n_train),
                              ledger="lean", differentiable=True)
            # the mean over the minibatch's SKUs with a scored period (a SKU that starts or ends inside the
            # horizon may have none in its life); with every SKU scored, the mean over all
            scored = ledger.counted_periods > 0
            if not bool(scored.any()):
                continue
            loss = per_sku_loss(ledger)[scored].mean() if not bool(scored.all()) else per_sku_loss(ledger).mean()
            if not torch.isfinite(loss):
                skipped += 1
                continue
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(network.parameters(), config.max_grad_norm, foreach=True)
            optimizer.step()
            losses.append(loss.item())

        # ---- validation: learning-rate plateau, best weights (early stopping reads the history)
        current = run.validate()
        scheduler.step(current)
        entry = {"epoch": epoch, "train_loss": sum(losses) / len(losses) if losses else None,
                 "validation_loss": current, "learning_rate": optimizer.param_groups[0]["lr"]}
        if skipped and losses:
            log.warning("DS: %d of %d minibatches had a non-finite training loss at epoch %d; their steps were skipped",
                        skipped, skipped + len(losses), epoch)
        if not losses:
            log.warning("DS: every minibatch's training loss was non-finite at epoch %d, so the weights can no longer "
                        "change: stopping (the policy's orders overflow; a max_order bounds them). Best validation "
                        "loss %.4f kept", epoch, run.best_loss)
        if not run.record(entry, {"epoch": epoch}, save=epoch % config.checkpoint_every == 0):
            break
    return run.finish({"epoch": epoch})


def sharded_step(run: TrainingRun, batch: torch.Tensor, optimizer: torch.optim.Optimizer, problem: InventoryProblem,
                 n_train: int) -> torch.Tensor | None:
    """One data-parallel DS step (:mod:`orkit.rl.distributed`): this process simulates its
    contiguous shard of ``batch`` and back-propagates its share of the batch loss (the sum of
    its trajectories' losses over the batch size); the gradients and the shares are summed over
    the processes in one ``all_reduce``, so every process takes the one-process step on the
    whole batch (clipped, skipped when the batch loss is not finite). Returns the batch loss.

    With SKUs that start or end inside the horizon the batch loss is the mean over the batch's
    SKUs with a scored period (their count summed over the processes first), as in one process;
    ``None`` when the batch has none (no step)."""
    s, network = run.setup, run.network
    params = [p for p in network.parameters() if p.requires_grad]
    optimizer.zero_grad()
    lo, hi = s.dp.bounds(len(batch))
    share = torch.zeros((), device=s.device)
    losses = scored = None
    if hi > lo:  # a shard may be empty (a last minibatch smaller than the number of processes)
        mine = batch[lo:hi]
        ledger = simulate(run.policy, subset_input(s.train_input, mine), subset_problem(problem, mine, n_train),
                          ledger="lean", differentiable=True)
        losses, scored = per_sku_loss(ledger), ledger.counted_periods > 0
    n_scored = len(batch)
    if s.train_input.life is not None:  # SKUs with lives: the mean over the batch's SKUs with a scored period
        count = torch.zeros(1, dtype=torch.float64, device=s.device)
        if scored is not None:
            count[0] = scored.sum()
        n_scored = int(s.dp.sum(count)[0])
        if n_scored == 0:  # as one process: a minibatch without a scored period takes no step
            return None
    if losses is not None:
        share = (losses[scored] if s.train_input.life is not None else losses).sum() / n_scored
        share.backward()
    loss = s.dp.reduce_gradients(params, share.detach())[0]
    if torch.isfinite(loss):
        torch.nn.utils.clip_grad_norm_(params, s.config.max_grad_norm, foreach=True)
        optimizer.step()
    return loss


def diverged(history: list[dict[str, Any]]) -> bool:
    """Whether the last epoch took no gradient step because every minibatch's training loss was
    non-finite: the weights did not change, and a minibatch fails as long as it holds a
    trajectory that overflows, so later epochs would repeat it (with certainty when one
    minibatch holds every training trajectory).

    A policy whose orders grow with its inventory can overflow when nothing clips its orders
    (no ``max_order``), typically after a too large learning rate. Derived from the history, so
    a resumed run stops where an uninterrupted one does.
    """
    last = history[-1] if history else None
    return last is not None and last.get("epoch", 0) > 0 and last.get("train_loss") is None


class DSPolicy(NeuralEstimator):
    """A policy trained by DS (:func:`train_ds`); ``fit(train, validation, problem)`` trains it.

    Parameters are those of :class:`~orkit.rl.policy.NeuralEstimator` (regularization,
    config, warm_start, checkpoint_dir, resume, callback) plus any :class:`DSConfig` field as
    a keyword. After ``fit``: ``policy_`` (:class:`~orkit.rl.NeuralPolicy`), ``history_``,
    ``config_``, ``best_validation_loss_``.

    Examples
    --------
    >>> from orkit.core import InventoryProblem
    >>> from orkit.data import generate
    >>> from orkit.evaluation import evaluate
    >>> from orkit.rl import DSPolicy
    >>> data = generate("deepstock-1", seed=0)
    >>> train, validation, test = data.splits()
    >>> problem = InventoryProblem(**data.metadata["problem"])
    >>> policy = DSPolicy("base", max_epochs=3).fit(train, validation, problem)
    >>> evaluate(policy, test, problem)["weighted_loss"] < 3
    True
    """

    learner = "ds"
    policy_name = "ds"
    config_class = DSConfig
    budget = ("max_epochs", "epoch")
    train_function = staticmethod(train_ds)
