"""Policy-regularized deep RL on the batched simulator (DeepStock, paper.md sections 3-4).

- Regularization heads (:mod:`orkit.rl.heads`): None, Base, Coeff, Both.
- The observation encoder (:mod:`orkit.rl.encoder`): per-SKU input normalisation.
- The network (:mod:`orkit.rl.networks`): encoder, MLP body, head.
- Learners, one module each: DS (:mod:`orkit.rl.ds`), PPO (:mod:`orkit.rl.ppo`), DDPG
  (:mod:`orkit.rl.ddpg`); each a config dataclass, a training function and a fittable policy.
- Warm start from any Policy (:mod:`orkit.rl.warm_start`); checkpoints without pickle
  (:mod:`orkit.rl.checkpoint`); a Gymnasium-model adapter (:mod:`orkit.rl.gym_policy`).

Layer: imports orkit.core, orkit.data, orkit.sim and orkit.evaluation only.
"""

from orkit.rl.buffers import ReplayBuffer
from orkit.rl.checkpoint import TrainingCheckpoint, load_policy, save_policy
from orkit.rl.ddpg import DDPGConfig, DDPGPolicy, train_ddpg
from orkit.rl.ds import DSConfig, DSPolicy, train_ds
from orkit.rl.gym_policy import GymModelPolicy
from orkit.rl.heads import (
    REGULARIZATIONS,
    BaseHead,
    BothHead,
    CoeffHead,
    NoneHead,
    RegularizationHead,
    base_order,
    both_order,
    coeff_order,
    coefficient_weights,
    make_head,
    none_order,
)
from orkit.rl.encoder import EncodedObservation, ObservationEncoder
from orkit.rl.networks import LITERAL_INPUTS, NetworkConfig, PolicyNetwork, build_network
from orkit.rl.policy import NeuralEstimator, NeuralPolicy, TrainingResult
from orkit.rl.ppo import PPOAgent, PPOConfig, PPOPolicy, train_ppo
from orkit.rl.warm_start import imitate, record_teacher

__all__ = [
    "LITERAL_INPUTS",
    "REGULARIZATIONS",
    "BaseHead",
    "BothHead",
    "CoeffHead",
    "DDPGConfig",
    "DDPGPolicy",
    "DSConfig",
    "DSPolicy",
    "EncodedObservation",
    "GymModelPolicy",
    "NetworkConfig",
    "NeuralEstimator",
    "NeuralPolicy",
    "NoneHead",
    "ObservationEncoder",
    "PPOAgent",
    "PPOConfig",
    "PPOPolicy",
    "PolicyNetwork",
    "RegularizationHead",
    "ReplayBuffer",
    "TrainingCheckpoint",
    "TrainingResult",
    "base_order",
    "both_order",
    "build_network",
    "coeff_order",
    "coefficient_weights",
    "imitate",
    "load_policy",
    "make_head",
    "none_order",
    "record_teacher",
    "save_policy",
    "train_ddpg",
    "train_ds",
    "train_ppo",
]
