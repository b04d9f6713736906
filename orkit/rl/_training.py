"""What every learner does before its own loop: data on the device, network, warm start, checkpoint."""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from orkit.core.errors import ValidationError
from orkit.core.problem import InventoryProblem
from orkit.rl.checkpoint import TrainingCheckpoint
from orkit.rl.heads import RegularizationHead, make_head
from orkit.rl.networks import NetworkConfig, PolicyNetwork, build_network, config_to_dict, resolve_device
from orkit.rl.policy import as_dataset, resolve_config
from orkit.rl.warm_start import imitate
from orkit.sim import SimulationInput, prepare_input

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
    device = resolve_device(config.device)
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
    return Setup(
        config=config,
        device=device,
        head=network.head,
        train=train,
        train_input=prepare_input(train, device=device),
        validation_input=prepare_input(validation, device=device),
        network=network,
        checkpoint=TrainingCheckpoint(checkpoint_dir) if checkpoint_dir is not None else None,
        config_json=config_json,
    )


def warm_start_network(network: PolicyNetwork, teacher: Any, s: Setup, problem: InventoryProblem, config: NetworkConfig) -> None:
    """Imitate ``teacher`` (when given) on the training trajectories, in place."""
    if teacher is None or config.warm_start_epochs == 0:
        return
    imitate(network, teacher, s.train_input, problem, epochs=config.warm_start_epochs,
            learning_rate=config.warm_start_learning_rate)


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
    """Adam with the fused kernel where torch has one for these parameters (CPU and CUDA floats).

    On CPU torch defaults to the per-tensor loop, which costs about 0.8 ms a step for PPO's two
    [256, 256] networks; the fused kernel updates every parameter in one call. Same algorithm,
    same results for the same seed.
    """
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, fused=True, **options)
    except (RuntimeError, ValueError):  # a device or dtype without the fused kernel
        return torch.optim.Adam(params, lr=lr, **options)


def steps_since_improvement(history: list[dict[str, Any]], key: str = "timesteps") -> float:
    """RL steps from the best validation loss in ``history`` (its first occurrence, as the
    learners keep a checkpoint only on strict improvement) to the last entry.

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


def clip_grad_norm(parameters: list[torch.Tensor], max_norm: float) -> None:
    """``torch.nn.utils.clip_grad_norm_`` for one device and dtype, without its per-call
    grouping: the same operations (so the same numbers), a quarter of the overhead, which
    matters at thousands of small updates."""
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return
    total = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads, 2.0)), 2.0)
    torch._foreach_mul_(grads, torch.clamp(max_norm / (total + 1e-6), max=1.0))


def adam_step(optimizer: torch.optim.Adam) -> None:
    """``optimizer.step()`` for a fused Adam (:func:`adam`) with one parameter group on one
    device: the same kernel with the same arguments, called directly once the state exists.

    ``Optimizer.step`` spends about 0.2 ms per call in Python (hooks, grouping by device)
    around a kernel that takes a tenth of that for DDPG's [64, 64] networks, which step twice
    per gradient step. Anything else (first step, AMSGrad, tensor learning rates, several
    groups, missing gradients) goes through ``optimizer.step()``.
    """
    group = optimizer.param_groups[0]
    params = group["params"]
    if (len(optimizer.param_groups) != 1 or not group.get("fused") or group["amsgrad"] or group["capturable"]
            or group.get("decoupled_weight_decay") or group["differentiable"] or isinstance(group["lr"], torch.Tensor)
            or any(p.grad is None or not optimizer.state.get(p) for p in params)):
        optimizer.step()
        return
    states = [optimizer.state[p] for p in params]
    steps = [s["step"] for s in states]
    beta1, beta2 = group["betas"]
    torch._foreach_add_(steps, 1)
    torch._fused_adam_(params, [p.grad for p in params], [s["exp_avg"] for s in states],
                       [s["exp_avg_sq"] for s in states], [], steps, amsgrad=False, lr=group["lr"], beta1=beta1,
                       beta2=beta2, weight_decay=group["weight_decay"], eps=group["eps"], maximize=group["maximize"],
                       grad_scale=None, found_inf=None)
