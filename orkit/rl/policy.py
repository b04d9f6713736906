"""The trained policy object, and the scikit-learn-style estimators every learner shares.

- :class:`NeuralPolicy` wraps a trained :class:`~orkit.rl.networks.PolicyNetwork`: ``act(obs)``
  is one forward pass for all SKUs (an orkit :class:`~orkit.core.Policy`). Device follows the
  data: the network moves to the observation's device on first use.
- ``DSPolicy``, ``PPOPolicy`` and ``DDPGPolicy`` (in their learner modules) are fittable
  policies: the constructor stores its arguments, ``fit(train, validation, problem)`` trains
  and sets ``policy_`` (a NeuralPolicy), ``history_`` and ``config_``. They are scikit-learn
  estimators in fact (:class:`~orkit.core.estimator.Estimator`): the fields of their
  configuration dataclass are parameters too, and they save and load in orkit's common format
  (:mod:`orkit.core.persistence`).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from orkit.core.errors import ValidationError
from orkit.core.estimator import _NO_DEFAULT
from orkit.core.persistence import SavablePolicy
from orkit.core.policy import Observation, check_is_fitted
from orkit.core.validation import check_float
from orkit.rl.heads import REGULARIZATIONS, RegularizationHead, head_from_config
from orkit.rl.networks import PolicyNetwork, config_from_dict, config_to_dict

__all__ = ["NeuralPolicy", "TrainingResult"]


class NeuralPolicy:
    """A trained policy network as an orkit :class:`~orkit.core.Policy`.

    Parameters
    ----------
    network : PolicyNetwork

    Examples
    --------
    >>> from orkit.data import generate
    >>> from orkit.core import InventoryProblem
    >>> from orkit.rl import NetworkConfig, NeuralPolicy, build_network, make_head
    >>> from orkit.sim import simulate
    >>> data = generate("deepstock-1", seed=0)
    >>> train, validation, test = data.splits()
    >>> problem = InventoryProblem(**data.metadata["problem"])
    >>> config = NetworkConfig(initial_action_bias=0.4, input_scale="global")
    >>> network = build_network(train, problem, make_head("base"), config)
    >>> ledger = simulate(NeuralPolicy(network), test, problem)
    >>> level = ledger.order[:, 2] + ledger.on_hand[:, 1]   # first order + position (the backlog)
    >>> round(float(level.mean()))   # the initial level: 0.4 x the range (max order 100)
    40
    """

    def __init__(self, network: PolicyNetwork) -> None:
        if not isinstance(network, PolicyNetwork):
            raise ValidationError(f"network must be a PolicyNetwork, got {type(network).__name__}")
        self.network = network

    @property
    def head(self) -> RegularizationHead:
        return self.network.head

    @property
    def regularization(self) -> str:
        return self.network.head.name

    def act(self, obs: Observation) -> torch.Tensor:
        device = obs.on_hand.device
        if self.network.body[0].weight.device != device:
            self.network.to(device)
        return self.network(obs).to(obs.on_hand.dtype)

    def explain(self, obs: Observation) -> dict[str, torch.Tensor]:
        """Target levels (Base/Both) and coefficients (Coeff/Both) behind the orders."""
        with torch.no_grad():
            return self.network.explain(obs)

    def save(self, path: str | Path, *, metadata: dict[str, Any] | None = None) -> Path:
        """Write the policy to the directory ``path`` (see :func:`orkit.rl.save_policy`)."""
        from orkit.rl.checkpoint import save_policy

        return save_policy(self, path, metadata=metadata)

    @classmethod
    def load(cls, path: str | Path, *, device: str | None = None) -> "NeuralPolicy":
        from orkit.rl.checkpoint import load_policy

        return load_policy(path, device=device)

    def __repr__(self) -> str:
        return f"NeuralPolicy(regularization={self.regularization!r}, hidden_sizes={list(self.network.hidden_sizes)})"


@dataclass
class TrainingResult:
    """What a training function returns.

    Attributes
    ----------
    policy : NeuralPolicy
        The network with the best validation loss.
    history : list of dict
        One entry per evaluation (epoch for DS, update for PPO, evaluation for DDPG).
    config : dataclass
        The configuration used.
    best_validation_loss : float
    seconds : float
        Wall-clock training time (this process's share when resumed).
    """

    policy: NeuralPolicy
    history: list[dict[str, Any]]
    config: Any
    best_validation_loss: float
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def resolve_config(config_class: type, config: Any, overrides: dict[str, Any]) -> Any:
    """``config`` (None, a dataclass or a dict) with ``overrides`` applied, as ``config_class``."""
    if config is None:
        base: dict[str, Any] = {}
    elif isinstance(config, config_class):
        base = config_to_dict(config)
    elif isinstance(config, dict):
        base = dict(config)
    else:
        raise ValidationError(f"config must be a {config_class.__name__} or a dict, got {type(config).__name__}")
    return config_from_dict(config_class, {**base, **overrides})


class NeuralEstimator(SavablePolicy):
    """Shared constructor, ``act``, parameters and saving of the fittable RL policies.

    Parameters
    ----------
    regularization : {"none", "base", "coeff", "both"} or RegularizationHead, default="base"
        The policy regularization (paper.md section 3); a head object for non-default settings.
    config : dataclass or dict, optional
        The learner's configuration (default: its defaults).
    warm_start : Policy, optional
        A teacher the network imitates on the training trajectories before training.
    checkpoint_dir : str or Path, optional
        Save the training state there after every epoch / update, and the final policy.
    resume : bool, default=False
        Continue from the training state in ``checkpoint_dir`` when there is one.
    callback : callable, optional
        ``callback(entry)`` after each history entry; returning ``False`` stops training.
    progress : bool, default=False
        Show a progress bar (tqdm) over the training budget (epochs for DS, RL steps for PPO
        and DDPG) with the latest validation loss, and the best one (the kept weights') at
        the end; it stops short of the end when early stopping ends the run.
    **hyperparameters
        Fields of the configuration overriding ``config``.

    Notes
    -----
    The configuration's fields are parameters like the constructor's: ``get_params`` lists
    each with the value training would use (``hyperparameters``, else ``config``, else the
    default), ``set_params`` accepts them (and refuses other names), and ``clone`` keeps
    ``config`` and the given fields apart as they were given. ``clone`` passes ``warm_start``
    and ``callback`` on as they are: a teacher must stay fitted. Saving keeps neither (they only
    matter while training; policy.json records their repr).

    Attributes
    ----------
    policy_ : NeuralPolicy
        The trained network (the weights with the best validation loss).
    config_ : dataclass
        The configuration used.
    best_validation_loss_ : float
    history_ : list of dict
        One entry per evaluation. A run diagnostic: not saved.
    per_sku_ : bool
        False: one network serves every SKU.
    sku_ids_ : None
    """

    _shared_parameters = ("warm_start", "callback")
    _unsaved_parameters = ("warm_start", "callback")
    _saved_attributes = ("policy_", "config_", "best_validation_loss_")

    learner: str = ""
    config_class: type = object
    train_function: Callable[..., TrainingResult]
    #: the configuration field holding the training budget and the history key counting it
    budget: tuple[str, str] = ("total_timesteps", "timesteps")

    def __init__(
        self,
        regularization: "str | RegularizationHead" = "base",
        config: Any = None,
        *,
        warm_start: Any = None,
        checkpoint_dir: str | Path | None = None,
        resume: bool = False,
        callback: Callable[[dict[str, Any]], Any] | None = None,
        progress: bool = False,
        **hyperparameters: Any,
    ) -> None:
        self.regularization = regularization
        self.config = config
        self.warm_start = warm_start
        self.checkpoint_dir = checkpoint_dir
        self.resume = resume
        self.callback = callback
        self.progress = progress
        self.hyperparameters = hyperparameters

    def fit(self, train: Any, validation: Any, problem: Any) -> "NeuralEstimator":
        """Train on ``train``, select on ``validation`` (early stopping, best checkpoint)."""
        config = resolve_config(self.config_class, self.config, self.hyperparameters)
        start = time.perf_counter()
        bar, callback = self._progress(config) if self.progress else (None, self.callback)
        try:
            result = type(self).train_function(
                train,
                validation,
                problem,
                self.regularization,
                config,
                warm_start=self.warm_start,
                checkpoint_dir=self.checkpoint_dir,
                resume=self.resume,
                callback=callback,
            )
        except BaseException:
            if bar is not None:
                bar.close()
            raise
        if bar is not None:
            extra = getattr(result, "extra", None) or {}
            if "n_updates" in extra and "steps_per_rollout" in extra:  # PPO's budget in whole rollouts
                bar.total = extra["n_updates"] * extra["steps_per_rollout"]
            bar.set_postfix(best=f"{result.best_validation_loss:.4f}", refresh=False)
            bar.close()
        self.policy_ = result.policy
        self.history_ = result.history
        self.config_ = result.config
        self.best_validation_loss_ = result.best_validation_loss
        self.fit_seconds_ = time.perf_counter() - start
        self.per_sku_, self.sku_ids_ = False, None
        return self

    # ------------------------------------------------------------------ parameters
    @classmethod
    def _config_defaults(cls) -> dict[str, Any]:
        defaults = {}
        for f in dataclasses.fields(cls.config_class):
            if f.default is not dataclasses.MISSING:
                defaults[f.name] = f.default
            elif f.default_factory is not dataclasses.MISSING:
                defaults[f.name] = f.default_factory()
            else:
                defaults[f.name] = _NO_DEFAULT
        return defaults

    def _params(self) -> dict[str, Any]:
        # every configuration field, with the value training would use
        params = {name: getattr(self, name) for name in self._get_param_names()}
        config = self.config
        values = self._config_defaults()
        if dataclasses.is_dataclass(config) and not isinstance(config, type):
            values.update({k: getattr(config, k) for k in values if hasattr(config, k)})
        elif isinstance(config, dict):
            values.update({k: v for k, v in config.items() if k in values})
        values.update(self.hyperparameters)
        params.update(values)
        return params

    def _param_defaults(self) -> dict[str, Any]:
        return {**super()._param_defaults(), **self._config_defaults()}

    def _set_param(self, name: str, value: Any) -> None:
        if name in self._get_param_names():
            setattr(self, name, value)
        else:
            self.hyperparameters[name] = value

    def _clone_params(self) -> dict[str, Any]:
        # config and the given fields as given: a clone whose config is later replaced
        # must not carry every default as an explicit override
        return {**{name: getattr(self, name) for name in self._get_param_names()}, **self.hyperparameters}

    # ------------------------------------------------------------------ saving
    @classmethod
    def _loadable_parameter_names(cls) -> set[str]:
        return super()._loadable_parameter_names() | set(cls._config_defaults())

    def _saved_parameters(self) -> dict[str, Any]:
        params = {k: v for k, v in self._clone_params().items() if k not in self._unsaved_parameters}
        if isinstance(params["regularization"], RegularizationHead):
            params["regularization"] = {"head": params["regularization"].to_config()}
        if dataclasses.is_dataclass(params["config"]) and not isinstance(params["config"], type):
            params["config"] = config_to_dict(params["config"])
        return params

    @classmethod
    def _loaded_parameters(cls, params: dict[str, Any]) -> dict[str, Any]:
        regularization = params.get("regularization", "base")
        if isinstance(regularization, dict):
            params = {**params, "regularization": _head_from_saved(regularization.get("head"))}
        return params

    def _saved_state(self) -> dict[str, Any]:
        network = self.policy_.network
        return {
            "policy_": {
                "network": network.config(),
                "weights": {k: v.detach().to("cpu").contiguous() for k, v in network.state_dict().items()},
            },
            "config_": config_to_dict(self.config_),
            "best_validation_loss_": float(self.best_validation_loss_),
            "per_sku_": self.per_sku_,
            "sku_ids_": self.sku_ids_,
        }

    def _restore_state(self, state: dict[str, Any]) -> None:
        saved = state["policy_"]
        if not isinstance(saved, dict) or set(saved) != {"network", "weights"}:
            raise ValidationError(f"policy_ must hold network and weights, got {saved!r}")
        if not isinstance(saved["network"], dict) or not isinstance(saved["weights"], dict):
            raise ValidationError("policy_ network must be the network configuration and weights its state_dict")
        network = PolicyNetwork.from_config(saved["network"])
        network.load_state_dict(saved["weights"])  # exact names and shapes, or a RuntimeError
        if not isinstance(state["config_"], dict):
            raise ValidationError(f"config_ must hold the fields of {self.config_class.__name__}, got {state['config_']!r}")
        self.config_ = config_from_dict(self.config_class, state["config_"])
        self.best_validation_loss_ = check_float("best_validation_loss_", state["best_validation_loss_"],
                                                 allow_inf=True)
        self.policy_ = NeuralPolicy(network)
        self.policy_.metadata = {"learner": self.learner, "config": config_to_dict(self.config_)}
        self.per_sku_, self.sku_ids_ = state["per_sku_"], state["sku_ids_"]

    def _progress(self, config: Any) -> tuple[Any, Callable[[dict[str, Any]], Any]]:
        """A tqdm bar over the budget and a callback that moves it, then calls the user's."""
        from tqdm.auto import tqdm

        field, key = self.budget
        bar = tqdm(total=getattr(config, field), desc=f"{self.learner.upper()} {self.regularization}", unit=key)
        user = self.callback

        def callback(entry: dict[str, Any]) -> Any:
            bar.update(max(0, min(int(entry.get(key, bar.n)), bar.total) - bar.n))
            if entry.get("validation_loss") is not None:
                bar.set_postfix(validation=f"{entry['validation_loss']:.4f}", refresh=False)
            bar.refresh()
            return user(entry) if user is not None else None

        return bar, callback

    def act(self, obs: Observation) -> torch.Tensor:
        check_is_fitted(self, ("policy_",))
        return self.policy_.act(obs)

    def explain(self, obs: Observation) -> dict[str, torch.Tensor]:
        """Target levels (Base/Both) and coefficients (Coeff/Both) behind the orders."""
        check_is_fitted(self, ("policy_",))
        return self.policy_.explain(obs)



def _head_from_saved(config: Any) -> RegularizationHead:
    """A regularization head saved as its configuration; only orkit's four heads are built."""
    name = config.get("name") if isinstance(config, dict) else None
    if name not in REGULARIZATIONS:
        raise ValidationError(f"regularization head must be one of {', '.join(REGULARIZATIONS)}, got {config!r}")
    return head_from_config(config)


def validation_loss(policy: Any, validation: Any, problem: Any) -> float:
    """The DeepStock loss of ``policy`` on ``validation`` (``evaluate(..., ledger="lean")["weighted_loss"]``)."""
    from orkit.evaluation import evaluate

    return float(evaluate(policy, validation, problem, ledger="lean")["weighted_loss"])


def as_dataset(data: Any, name: str = "train") -> Any:
    """A :class:`~orkit.data.Dataset` from a Dataset or an (n_skus, n_periods) demand array."""
    from orkit.data import Dataset

    if isinstance(data, Dataset):
        return data
    if data is None:
        raise ValidationError(f"{name} must be a Dataset or a demand array, got None")
    try:
        return Dataset(torch.as_tensor(data).detach().cpu().numpy(), name=name)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ValidationError(f"{name} must be a Dataset or an (n_skus, n_periods) demand array: {exc}") from None
