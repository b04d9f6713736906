"""The training run every learner shares: set-up, resume, checkpoints, best weights, timing, stop.

DS, PPO and DDPG differ in how they take a step; around the step they keep the same books,
written once here:

- :func:`setup`: the validated configuration, the device, the regularization head, the data
  on the device, the network and the checkpoint folder;
- :class:`TrainingRun`: resume from ``checkpoint_dir`` (or warm start and the initial
  validation), validation with the best weights kept on strict improvement, history entries
  with their wall-clock seconds, a training-state checkpoint when the learner asks for one,
  the user's callback (returning ``False`` stops), and at the end the best weights restored
  and the final policy saved.

A resumed run continues from the saved counters, random generator, optimiser state and
history, so it ends with exactly an uninterrupted run's history and weights (tested for all
three learners).

Under ``torchrun`` (:mod:`orkit.rl.distributed`) the same books serve data-parallel DS and PPO:
:func:`setup` joins the process group and checks that every process was given the same data
and configuration; the run starts every process from rank 0's weights, validates each process's
shard of the validation SKUs and sums the losses over the processes (so the best weights,
the plateau and early stopping agree everywhere), stops every process when a callback on any
asks to, and only rank 0 writes checkpoints and the final policy (every rank reads them to
resume).
"""

from __future__ import annotations

import functools
import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from orkit.core.errors import ValidationError
from orkit.core.problem import InventoryProblem
from orkit.evaluation import per_sku_loss
from orkit.rl.checkpoint import TrainingCheckpoint, clone_state_dict
from orkit.rl.distributed import SINGLE, DataParallel, current, data_fingerprint, fingerprint
from orkit.rl.heads import RegularizationHead, make_head
from orkit.rl.networks import PolicyNetwork, build_network, config_to_dict, resolve_device
from orkit.rl.policy import NeuralPolicy, TrainingResult, as_dataset, resolve_config, validation_loss
from orkit.rl.rollout import subset_input, subset_problem
from orkit.rl.warm_start import imitate
from orkit.sim import SimulationInput, prepare_input, simulate

log = logging.getLogger("orkit.rl")


@dataclass
class Setup:
    config: Any
    device: torch.device
    head: RegularizationHead
    train: Any  # Dataset
    train_input: SimulationInput
    validation_input: SimulationInput
    network: PolicyNetwork
    checkpoint: TrainingCheckpoint | None
    config_json: str
    dp: DataParallel = SINGLE
    """The processes of data-parallel training (:mod:`orkit.rl.distributed`); one by default."""


def setup(
    train: Any,
    validation: Any,
    problem: InventoryProblem,
    regularization: Any,
    config: Any,
    config_class: type,
    checkpoint_dir: str | Path | None,
) -> Setup:
    if not isinstance(problem, InventoryProblem):
        raise ValidationError(f"problem must be an InventoryProblem, got {type(problem).__name__}")
    config = resolve_config(config_class, config, {})
    config.check()
    dp = current()
    device = dp.device(resolve_device(config.device))
    head = make_head(regularization)
    train = as_dataset(train, "train")
    if train.n_skus == 0:
        raise ValidationError("train must hold at least one trajectory, got 0")
    if validation is None:
        log.warning("no validation data: early stopping and model selection use the training data")
        validation = train
    validation = as_dataset(validation, "validation")
    network = build_network(train, problem, head, config, device=device)
    config_json = json.dumps({"config": config_to_dict(config), "head": network.head.to_config()}, sort_keys=True)
    s = Setup(
        config=config,
        device=device,
        head=network.head,
        train=train,
        train_input=prepare_input(train, device=device),
        validation_input=prepare_input(validation, device=device),
        network=network,
        checkpoint=TrainingCheckpoint(checkpoint_dir) if checkpoint_dir is not None else None,
        config_json=config_json,
        dp=dp,
    )
    if dp.active:  # each process shards the SKUs itself: all must hold the same data and settings
        dp.check_same("configuration (learner settings and head)", [fingerprint(config_json)])
        dp.check_same("train data (SKUs, periods, demand sum, features, feature sum)", data_fingerprint(s.train_input))
        dp.check_same("validation data (SKUs, periods, demand sum, features, feature sum)",
                      data_fingerprint(s.validation_input))
        dp.check_same("problem", [fingerprint(repr(problem))])
    return s


class TrainingRun:
    """The books of one training run: history, best weights, seconds, checkpoints, stop.

    Parameters
    ----------
    learner : str
        ``"ds"``, ``"ppo"`` or ``"ddpg"`` (log lines and the saved policy's metadata).
    s : Setup
    problem : InventoryProblem
    state : dict of str -> object
        What a checkpoint saves and a resumed run restores, by name: anything with
        ``state_dict`` / ``load_state_dict`` (networks, optimisers, schedulers, the replay
        buffer) and ``torch.Generator`` objects.
    callback : callable, optional
        ``callback(entry)`` after each recorded entry; returning ``False`` stops training.

    Attributes
    ----------
    history : list of dict
        One entry per recorded step (epoch, update or evaluation), each with ``seconds``.
    best_loss : float
        The best validation loss so far; ``best_weights`` are the network's weights then.
    resumed : bool
        Whether :meth:`start` continued from a checkpoint.
    """

    def __init__(self, learner: str, s: Setup, problem: InventoryProblem, state: dict[str, Any], *,
                 callback: Callable[[dict[str, Any]], Any] | None = None) -> None:
        self.learner, self.setup, self.problem, self.state, self.callback = learner, s, problem, state, callback
        self.network = s.network
        self.dp = s.dp
        if self.dp.active:
            if learner not in DATA_PARALLEL_LEARNERS:
                raise ValidationError(
                    f"{learner.upper()} trains in one process; data-parallel training ({self.dp.world_size} processes "
                    f"under torchrun) supports {' and '.join(x.upper() for x in DATA_PARALLEL_LEARNERS)}: start it "
                    "without torchrun")
            n = s.validation_input.n_skus
            lo, hi = self.dp.bounds(n)
            index = torch.arange(lo, hi, device=s.device)
            self._validation_shard = (subset_input(s.validation_input, index), subset_problem(problem, index, n)) \
                if hi > lo else None
        self.policy = NeuralPolicy(s.network)
        self.history: list[dict[str, Any]] = []
        self.best_loss = math.inf
        self.best_weights: dict[str, torch.Tensor] = {}
        self.resumed = False
        self._started, self._seconds_before = time.perf_counter(), 0.0

    def elapsed(self) -> float:
        """Wall-clock seconds of training (a resumed run adds the earlier processes' seconds)."""
        return self._seconds_before + time.perf_counter() - self._started

    def start(self, *, warm_start: Any, resume: bool, first_entry: dict[str, Any],
              counters: dict[str, Any]) -> dict[str, Any]:
        """Resume from the checkpoint (with ``resume`` and a saved state), or warm start and
        record the initial validation as ``first_entry`` (its ``validation_loss`` and
        ``seconds`` filled in). Returns the counters to continue from: the saved ones, or
        ``counters``."""
        s = self.setup
        resuming = resume and s.checkpoint is not None and s.checkpoint.exists()
        saved = s.checkpoint.load(s.config_json) if resuming else {}
        if self.dp.active:  # every process resumes from the same state, or none does
            self.dp.check_same("training state to resume from (a checkpoint_dir every process reads)",
                               [float(resuming)] + [float(saved.get(k, 0)) for k in counters])
        if resuming:
            for name, obj in self.state.items():
                if isinstance(obj, torch.Generator):
                    obj.set_state(saved[name])
                else:
                    obj.load_state_dict(saved[name])
            self.history = list(saved["history"])
            self.best_loss = saved["best_loss"]
            self.best_weights = {k: v.to(s.device) for k, v in saved["best_weights"].items()}
            self._seconds_before = saved["seconds"]
            self.resumed = True
            log.info("%s: resumed after %s (best validation loss %.4f)", self.learner.upper(),
                     ", ".join(f"{k} {saved[k]}" for k in counters), self.best_loss)
            return {k: saved[k] for k in counters}
        config = s.config
        if warm_start is not None and config.warm_start_epochs > 0:
            imitate(self.network, warm_start, s.train_input, self.problem, epochs=config.warm_start_epochs,
                    learning_rate=config.warm_start_learning_rate)
        self.dp.broadcast(self.network)  # every process starts from rank 0's weights
        self.best_loss = self._validation_loss()
        self.best_weights = clone_state_dict(self.network)
        self.history.append({**first_entry, "validation_loss": self.best_loss, "seconds": self.elapsed()})
        return dict(counters)

    def validate(self) -> float:
        """The validation loss of the current network; its weights are kept when it is the best so far."""
        loss = self._validation_loss()
        if loss < self.best_loss:
            self.best_loss, self.best_weights = loss, clone_state_dict(self.network)
        return loss

    def _validation_loss(self) -> float:
        """The validation loss (DeepStock loss, mean over the SKUs with a scored period); with
        several processes, each simulates its shard of the validation SKUs and the sums of
        the per-SKU losses and of the scored SKUs are added over the processes."""
        s = self.setup
        if not self.dp.active:
            return validation_loss(self.policy, s.validation_input, self.problem)
        sums = torch.zeros(2, dtype=torch.float64, device=s.device)
        if self._validation_shard is not None:
            with torch.no_grad():
                ledger = simulate(self.policy, *self._validation_shard, ledger="lean").sums()
            scored = ledger.counted_periods > 0
            sums[0], sums[1] = per_sku_loss(ledger)[scored].double().sum(), scored.sum()
        total, count = self.dp.sum(sums).tolist()
        if count == 0:  # no scored period anywhere: the one-process evaluation's error
            return validation_loss(self.policy, s.validation_input, self.problem)
        return total / count

    def record(self, entry: dict[str, Any], counters: dict[str, Any], *, save: bool) -> bool:
        """Append ``entry`` (with ``seconds``), save the training state when ``save`` (and a
        ``checkpoint_dir`` was given), then call the callback. False when it asks to stop
        (with several processes: when the callback of any process asks to stop)."""
        entry["seconds"] = self.elapsed()
        self.history.append(entry)
        if save:
            self.save(counters)
        go_on = self.callback is None or self.callback(dict(entry)) is not False
        return go_on if not self.dp.active else not self.dp.any(not go_on)

    def save(self, counters: dict[str, Any]) -> None:
        """Write the training state (no-op without a ``checkpoint_dir``, and on ranks other than 0)."""
        if self.setup.checkpoint is None or not self.dp.is_main:
            return
        state = {name: obj.get_state() if isinstance(obj, torch.Generator) else obj.state_dict()
                 for name, obj in self.state.items()}
        self.setup.checkpoint.save({**state, **counters, "history": self.history, "best_loss": self.best_loss,
                                    "best_weights": self.best_weights, "seconds": self.elapsed()},
                                   self.setup.config_json)

    def finish(self, counters: dict[str, Any], extra: dict[str, Any] | None = None) -> TrainingResult:
        """Save the final training state, restore the best weights, save the policy."""
        s = self.setup
        self.save(counters)
        self.network.load_state_dict(self.best_weights)
        if s.checkpoint is not None and self.dp.is_main:
            self.policy.save(s.checkpoint.directory / "policy",
                             metadata={"learner": self.learner, "config": json.loads(s.config_json)})
        self.dp.barrier()  # the files are written when training returns, on every process
        log.info("%s: %s, best validation loss %.4f", self.learner.upper(),
                 ", ".join(f"{k} {v}" for k, v in counters.items()), self.best_loss)
        return TrainingResult(self.policy, self.history, s.config, self.best_loss, self.elapsed(), extra=extra or {})


DATA_PARALLEL_LEARNERS = ("ds", "ppo")
"""The learners that train over SKU shards in several processes (:mod:`orkit.rl.distributed`)."""


def generator_for(seed: int) -> torch.Generator:
    """The CPU generator of every random draw of training (CPU: the same numbers on any device)."""
    return torch.Generator().manual_seed(int(seed) + 1)


def limit_threads(config_class: type):
    """Run a training function with ``torch.set_num_threads(config.num_threads)``, restored afterwards."""

    def decorate(train_function):
        @functools.wraps(train_function)
        def wrapper(train, validation, problem, regularization="base", config=None, **options):
            n = resolve_config(config_class, config, {}).num_threads
            before = torch.get_num_threads()
            if n is not None:
                torch.set_num_threads(int(n))
            try:
                return train_function(train, validation, problem, regularization, config, **options)
            finally:
                torch.set_num_threads(before)

        return wrapper

    return decorate


def adam(params: Any, lr: float, **options: Any) -> torch.optim.Adam:
    """``torch.optim.Adam`` with its fused kernel where torch has one for these parameters
    (CPU and CUDA floats; on CPU torch's default is the per-tensor loop), else the default.
    Same algorithm either way."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, fused=True, **options)
    except (RuntimeError, ValueError):  # a device or dtype without the fused kernel
        return torch.optim.Adam(params, lr=lr, **options)


def gradient_step(optimizer: torch.optim.Optimizer, loss: torch.Tensor, params: list[torch.Tensor]) -> None:
    """One ``optimizer.step()`` on the gradient of ``loss`` with respect to ``params`` only
    (``torch.autograd.grad``: no other tensor receives a gradient and no ``zero_grad`` is
    needed, which saves time on DDPG's small networks; see docs/benchmarks.md)."""
    for param, grad in zip(params, torch.autograd.grad(loss, params)):
        param.grad = grad
    optimizer.step()


def steps_since_improvement(history: list[dict[str, Any]], key: str = "timesteps") -> float:
    """Steps (``key``: RL steps, or ``"epoch"``) from the best validation loss in ``history``
    (its first occurrence: the best weights change only on strict improvement) to the last
    entry.

    Derived from the history alone, so a resumed run stops exactly where an uninterrupted one
    would.
    """
    best, at = float("inf"), 0.0
    for entry in history:
        loss = entry.get("validation_loss")
        if loss is not None and loss < best:
            best, at = loss, float(entry.get(key, 0))
    return float(history[-1].get(key, 0)) - at if history else 0.0


def stalled(history: list[dict[str, Any]], patience: int | None) -> bool:
    """Early stopping of the RL learners: no validation improvement for ``patience`` RL steps."""
    return patience is not None and steps_since_improvement(history) >= patience
