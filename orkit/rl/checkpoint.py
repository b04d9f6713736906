"""Save and load trained policies and training states, without pickle.

**A fitted estimator** (``DSPolicy``, ``PPOPolicy``, ``DDPGPolicy``) saves with ``save(folder)``
in orkit's common format (:mod:`orkit.core.persistence`): ``policy.json`` (format
``orkit-policy/1``, the registered name, the constructor parameters, the training
configuration, the network configuration) and ``arrays.safetensors`` (the network's
state_dict). :func:`orkit.experiments.registry.load_policy` gives the estimator back;
:func:`load_policy` here gives its :class:`~orkit.rl.NeuralPolicy`.

**A bare trained network** (:func:`save_policy`, ``NeuralPolicy.save``) is a directory::

    policy.json              format "orkit-rl-policy/1", network configuration, metadata
    weights.safetensors      the network's state_dict (when the safetensors package is installed)
    weights.pt               otherwise: torch.save of the state_dict, read with weights_only=True

Folders written that way by earlier versions of orkit load as they always did. Loading never
unpickles arbitrary objects: safetensors holds raw tensors only, and
``torch.load(..., weights_only=True)`` accepts tensors and plain containers only. A damaged or
tampered folder (a weights path leaving the folder, a truncated file, a pickle renamed,
weights that do not fit the network, NaN weights) raises
:class:`~orkit.core.errors.PersistenceError` naming the file.

**A training state** (``TrainingCheckpoint``) is one ``torch.save`` file of plain containers
and tensors: the network, optimiser and scheduler state_dicts, the random generator's state,
counters, the best weights so far, the history and the configuration as JSON. A learner saves
it after every epoch / update and, with ``resume=True``, continues from it with the same
result as an uninterrupted run (tested). Files are replaced atomically, so an interruption
while writing leaves the previous state intact.
"""

from __future__ import annotations

import importlib.util
import io
import json
from pathlib import Path
from typing import Any

import torch

from orkit.core.errors import PersistenceError, ValidationError
from orkit.core.files import atomic_write_text, atomic_write_with
from orkit.core.persistence import FORMAT as POLICY_FORMAT
from orkit.core.persistence import FileRef, check_safetensors_bytes, read_manifest
from orkit.rl.networks import PolicyNetwork

__all__ = ["save_policy", "load_policy", "TrainingCheckpoint", "FORMAT"]

FORMAT = "orkit-rl-policy/1"
TRAINING_FORMAT = "orkit-rl-training/1"
_WEIGHTS = ("weights.safetensors", "weights.pt")


def _has_safetensors() -> bool:
    return importlib.util.find_spec("safetensors") is not None


def save_policy(policy: Any, path: str | Path, *, metadata: dict[str, Any] | None = None,
                use_safetensors: bool | None = None) -> Path:
    """Write the network of a :class:`~orkit.rl.NeuralPolicy` (or a fitted RL estimator) to ``path``.

    This is the bare-network format (module docstring); ``DSPolicy.save`` and its siblings
    write the whole estimator in orkit's common format instead.

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
        atomic_write_with(path / weights, lambda p: save_file(state, str(p)))
    else:
        weights = "weights.pt"
        atomic_write_with(path / weights, lambda p: torch.save(state, p))
    for stale in set(_WEIGHTS) - {weights}:
        (path / stale).unlink(missing_ok=True)
    document = {"format": FORMAT, "weights": weights, "network": network.config(), "metadata": metadata or {}}
    atomic_write_text(path / "policy.json", json.dumps(document, indent=2, sort_keys=True))
    return path


def load_policy(path: str | Path, *, device: str | torch.device | None = None):
    """The :class:`~orkit.rl.NeuralPolicy` saved in ``path``.

    Reads both a bare network (:func:`save_policy`) and a fitted estimator saved with
    ``DSPolicy.save`` and its siblings (its network, with ``metadata`` giving the learner and
    the training configuration).

    Raises
    ------
    PersistenceError
        The folder is damaged or tampered with; the message names the file.
    """
    from orkit.rl.policy import NeuralPolicy

    path = Path(path)
    if not path.is_dir():
        raise ValidationError(f"path must be a directory written by save_policy (with policy.json), got {str(path)!r}")
    document = read_manifest(path, (FORMAT, POLICY_FORMAT))
    if document["format"] == POLICY_FORMAT:
        policy = _load_estimator(path, document).policy_
    else:
        policy = NeuralPolicy(_load_network(path, document))
        metadata = document.get("metadata", {})
        if not isinstance(metadata, dict):
            raise PersistenceError(f"{path / 'policy.json'}: metadata must be a JSON object, got {metadata!r}")
        policy.metadata = metadata
    if device is not None:
        policy.network.to(device)
    return policy


def _load_estimator(path: Path, document: dict[str, Any]) -> Any:
    """A fitted DSPolicy / PPOPolicy / DDPGPolicy saved in orkit's common format."""
    from orkit.rl.ddpg import DDPGPolicy
    from orkit.rl.ds import DSPolicy
    from orkit.rl.ppo import PPOPolicy

    learners = {cls.policy_name: cls for cls in (DSPolicy, PPOPolicy, DDPGPolicy)}
    name = document.get("policy")
    if name not in learners:
        raise PersistenceError(
            f"{path / 'policy.json'}: policy must be one of {', '.join(sorted(learners))} to load a network, got {name!r}"
        )
    return learners[name].load(path)


def _load_network(path: Path, document: dict[str, Any]) -> PolicyNetwork:
    """The network of a bare-network folder, every file checked."""
    manifest = path / "policy.json"
    name = document.get("weights")
    if name not in _WEIGHTS:
        # only the two names save_policy writes: a path can never leave the folder
        raise PersistenceError(
            f"{manifest}: weights must be 'weights.safetensors' or 'weights.pt' (a file inside the policy folder), "
            f"got {name!r}"
        )
    weights = path / name
    if not weights.is_file():
        raise PersistenceError(f"{weights} is missing (policy.json names it as the weights)")
    if weights.resolve().parent != path.resolve():
        raise PersistenceError(f"{weights} must be a regular file inside the policy folder, got {weights.resolve()}")
    data = weights.read_bytes()
    ref = FileRef(weights, data)
    if name == "weights.safetensors":
        from safetensors.torch import load

        check_safetensors_bytes(weights, data)
        state = ref.load(load, "the weights")
    else:
        state = ref.load(lambda d: torch.load(io.BytesIO(d), map_location="cpu", weights_only=True), "the weights")
        if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise PersistenceError(f"{weights} must hold a state_dict of tensors, got {type(state).__name__}")
    for key, tensor in state.items():
        if tensor.is_floating_point() and bool(torch.isnan(tensor).any()):
            raise PersistenceError(f"{weights}: weight {key!r} must not hold NaN, got {int(torch.isnan(tensor).sum())}")
    config = document.get("network")
    if not isinstance(config, dict):
        raise PersistenceError(f"{manifest}: network must be a JSON object (the network configuration), got {config!r}")
    try:
        network = PolicyNetwork.from_config(config)
    except (ValueError, TypeError, KeyError, IndexError, RuntimeError) as exc:
        raise PersistenceError(f"{manifest}: network is not a valid network configuration: {exc}") from None
    try:
        network.load_state_dict(state)
    except RuntimeError as exc:
        raise PersistenceError(f"{weights}: the weights must fit the network policy.json describes: {exc}") from None
    return network


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
        atomic_write_with(self.path, lambda p: torch.save(document, p))

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
