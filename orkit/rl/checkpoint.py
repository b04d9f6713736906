"""Save and load trained policies and training states, without pickle.

**A trained policy** is a directory::

    policy.json              format, network configuration (encoder, head, layers), metadata
    weights.safetensors      the network's state_dict (when the safetensors package is installed)
    weights.pt               otherwise: torch.save of the state_dict, read with weights_only=True

Loading never unpickles arbitrary objects: safetensors holds raw tensors only, and
``torch.load(..., weights_only=True)`` accepts tensors and plain containers only.

**A training state** (``TrainingCheckpoint``) is one ``torch.save`` file of plain containers
and tensors: the network, optimiser and scheduler state_dicts, the random generator's state,
counters, the best weights so far, the history and the configuration as JSON. A learner saves
it after every epoch / update and, with ``resume=True``, continues from it with the same
result as an uninterrupted run (tested). Files are replaced atomically, so an interruption
while writing leaves the previous state intact.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import Any

import torch

from orkit.core.errors import ValidationError
from orkit.rl.networks import PolicyNetwork

__all__ = ["save_policy", "load_policy", "TrainingCheckpoint", "FORMAT"]

FORMAT = "orkit-rl-policy/1"
TRAINING_FORMAT = "orkit-rl-training/1"


def _has_safetensors() -> bool:
    return importlib.util.find_spec("safetensors") is not None


def _atomic_write(path: Path, write) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def save_policy(policy: Any, path: str | Path, *, metadata: dict[str, Any] | None = None,
                use_safetensors: bool | None = None) -> Path:
    """Write a :class:`~orkit.rl.NeuralPolicy` (or a fitted RL estimator) to the directory ``path``.

    Parameters
    ----------
    policy : NeuralPolicy or fitted DSPolicy / PPOPolicy / DDPGPolicy
    path : str or Path
        A directory (created if needed).
    metadata : dict, optional
        JSON-serialisable notes stored in ``policy.json`` (learner, configuration, ...).
    use_safetensors : bool or None, default=None
        ``None``: safetensors when installed, else ``torch.save``.

    Returns
    -------
    Path
        The directory.
    """
    network = _network_of(policy)
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu").contiguous() for k, v in network.state_dict().items()}
    if use_safetensors is None:
        use_safetensors = _has_safetensors()
    if use_safetensors:
        from safetensors.torch import save_file

        weights = "weights.safetensors"
        _atomic_write(path / weights, lambda p: save_file(state, str(p)))
    else:
        weights = "weights.pt"
        _atomic_write(path / weights, lambda p: torch.save(state, p))
    for stale in {"weights.safetensors", "weights.pt"} - {weights}:
        (path / stale).unlink(missing_ok=True)
    document = {"format": FORMAT, "weights": weights, "network": network.config(), "metadata": metadata or {}}
    text = json.dumps(document, indent=2, sort_keys=True)
    _atomic_write(path / "policy.json", lambda p: p.write_text(text))
    return path


def load_policy(path: str | Path, *, device: str | torch.device | None = None):
    """Read a policy written by :func:`save_policy`; returns a :class:`~orkit.rl.NeuralPolicy`."""
    from orkit.rl.policy import NeuralPolicy

    path = Path(path)
    manifest = path / "policy.json"
    if not manifest.is_file():
        raise ValidationError(f"path must be a directory written by save_policy (with policy.json), got {str(path)!r}")
    document = json.loads(manifest.read_text())
    if document.get("format") != FORMAT:
        raise ValidationError(f"policy.json format must be {FORMAT!r}, got {document.get('format')!r}")
    weights = path / document["weights"]
    if weights.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(weights))
    else:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    network = PolicyNetwork.from_config(document["network"])
    network.load_state_dict(state)
    if device is not None:
        network.to(device)
    policy = NeuralPolicy(network)
    policy.metadata = document.get("metadata", {})
    return policy


def _network_of(policy: Any) -> PolicyNetwork:
    if isinstance(policy, PolicyNetwork):
        return policy
    inner = getattr(policy, "policy_", policy)
    network = getattr(inner, "network", None)
    if not isinstance(network, PolicyNetwork):
        raise ValidationError(f"policy must be a NeuralPolicy or a fitted RL policy, got {type(policy).__name__}")
    return network


class TrainingCheckpoint:
    """The resumable training state of one run, in ``directory/training_state.pt``.

    Parameters
    ----------
    directory : str or Path
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.path = self.directory / "training_state.pt"

    def exists(self) -> bool:
        return self.path.is_file()

    def save(self, state: dict[str, Any], config_json: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        document = {"format": TRAINING_FORMAT, "config": config_json, "state": state}
        _atomic_write(self.path, lambda p: torch.save(document, p))

    def load(self, config_json: str) -> dict[str, Any]:
        """The saved state; raises when it was written under a different configuration."""
        document = torch.load(self.path, map_location="cpu", weights_only=True)
        if document.get("format") != TRAINING_FORMAT:
            raise ValidationError(f"{self.path} is not an orkit training state (format {document.get('format')!r})")
        if document["config"] != config_json:
            saved, now = json.loads(document["config"]), json.loads(config_json)
            diff = sorted(k for k in set(saved) | set(now) if saved.get(k) != now.get(k))
            raise ValidationError(
                f"cannot resume from {self.path}: it was trained with a different configuration "
                f"(differs in {', '.join(diff)}); use another checkpoint_dir or resume=False"
            )
        return document["state"]


def clone_state_dict(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached copy of a module's state_dict (for "best weights so far")."""
    return {k: v.detach().clone() for k, v in module.state_dict().items()}
