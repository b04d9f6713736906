r"""Data-parallel training over SKU shards with ``torch.distributed`` (DS and PPO).

Several processes train one policy. Every process is given the same training and validation
data and the same configuration; each simulates only its *shard* of every minibatch (DS) or
rollout (PPO): a contiguous block of the SKU trajectories the one-process run would simulate,
drawn from the same seeded generator on every process. The gradients are summed over the
processes (one ``all_reduce`` per step, each process's loss being its share of the batch's
sum divided by the batch size), and so are the statistics of a batch (PPO's advantage mean and
standard deviation, the logged losses, the validation loss), so N processes take the same
steps as one process on the whole batch, to floating-point rounding (tested,
``tests/rl/test_distributed.py``). The encoder's statistics (demand scales, feature means and
standard deviations, categories) are fitted on the whole training data in each process, so
they are the same everywhere without a reduction; the processes check at the start that they
were given the same data and configuration.

Launch with ``torchrun`` (one process per CPU socket share or per GPU)::

    torchrun --nproc-per-node 2 -m orkit evaluate data.csv --policy ds --param batch_size=512 \
        --param checkpoint_dir=runs/ds

or any script that trains DS or PPO: a training function started by ``torchrun`` joins its
process group by itself (:func:`init`; gloo on CPU, NCCL for CUDA tensors; with CUDA each
process trains on the GPU ``LOCAL_RANK``). Rank 0 writes the checkpoints and the final
policy; every rank reads them on ``resume``. Early stopping, the learning-rate plateau and the
best weights follow the reduced validation loss, and a callback asking to stop on any process
stops every process, so all processes stop together.

Without ``torchrun`` (or with one process) nothing here runs: training is the one-process
code, number for number.
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import torch
import torch.distributed as dist

from orkit.core.errors import ValidationError
from orkit.sim.simulator import decode_features

__all__ = ["DataParallel", "SINGLE", "current", "init", "launched"]


def launched() -> bool:
    """Whether this process was started by ``torchrun`` (or a similar launcher) with more than
    one process: the ``WORLD_SIZE`` environment variable is above 1."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1")) > 1
    except ValueError:
        raise ValidationError(f"WORLD_SIZE must be an integer, got {os.environ['WORLD_SIZE']!r}") from None


def default_backend() -> str:
    """gloo for CPU tensors, and NCCL for CUDA tensors where CUDA is available."""
    return "cpu:gloo,cuda:nccl" if torch.cuda.is_available() and dist.is_nccl_available() else "gloo"


def init(backend: str | None = None) -> "DataParallel":
    """Join the process group the launcher describes (``RANK``, ``WORLD_SIZE``,
    ``MASTER_ADDR``, ``MASTER_PORT``), unless this process already has joined one.

    Parameters
    ----------
    backend : str, optional
        A ``torch.distributed`` backend; default: :func:`default_backend`.

    Returns
    -------
    DataParallel
    """
    if not dist.is_available():
        raise ValidationError("data-parallel training needs torch.distributed, which this torch build lacks")
    if not dist.is_initialized():
        if torch.cuda.is_available() and "LOCAL_RANK" in os.environ:  # NCCL's default GPU: this process's
            torch.cuda.set_device(int(os.environ["LOCAL_RANK"]) % torch.cuda.device_count())
        dist.init_process_group(backend=backend or default_backend())
    return current()


def current() -> "DataParallel":
    """The processes a training run spreads over: the joined process group, or the one
    ``torchrun`` describes (joined now, :func:`init`), else :data:`SINGLE`."""
    if dist.is_available() and not dist.is_initialized() and launched():
        init()
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        return DataParallel(dist.get_rank(), dist.get_world_size())
    return SINGLE


@dataclass(frozen=True)
class DataParallel:
    """This process's place among the processes training one policy.

    Attributes
    ----------
    rank : int
        0 .. world_size - 1; rank 0 writes checkpoints.
    world_size : int
        Number of processes (1: ordinary training, no communication).
    """

    rank: int = 0
    world_size: int = 1

    @property
    def active(self) -> bool:
        """More than one process: the learners take their data-parallel path."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes files."""
        return self.rank == 0

    def bounds(self, n: int) -> tuple[int, int]:
        """``(lo, hi)``: this process's contiguous share ``[lo, hi)`` of ``n`` items; the first
        ``n % world_size`` processes take one more (``torch.tensor_split``'s rule). May be empty."""
        size, extra = divmod(int(n), self.world_size)
        lo = self.rank * size + min(self.rank, extra)
        return lo, lo + size + (1 if self.rank < extra else 0)

    def device(self, device: torch.device) -> torch.device:
        """With several processes on CUDA, process ``LOCAL_RANK`` trains on that GPU (unless the
        configuration names a GPU)."""
        if self.active and device.type == "cuda" and device.index is None:
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        return device

    def sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """The elementwise sum of ``tensor`` over the processes (``all_reduce``, in place)."""
        if self.active:
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor

    def reduce_gradients(self, params: Sequence[torch.Tensor], extra: torch.Tensor) -> torch.Tensor:
        """Sum the gradients of ``params`` and the statistics ``extra`` (a 1-D tensor) over the
        processes in one ``all_reduce``; every parameter ends with the summed gradient (zeros
        where this process computed none). Returns the summed ``extra``."""
        flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params]
                         + [extra.to(device=params[0].device, dtype=params[0].dtype).reshape(-1)])
        self.sum(flat)
        offset = 0
        for p in params:
            p.grad = flat[offset:offset + p.numel()].view_as(p)
            offset += p.numel()
        return flat[offset:]

    def broadcast(self, module: torch.nn.Module) -> None:
        """Rank 0's parameters and buffers to every process (the same start everywhere)."""
        if self.active:
            with torch.no_grad():
                for tensor in module.state_dict().values():
                    dist.broadcast(tensor, src=0)

    def any(self, flag: bool, device: torch.device | str = "cpu") -> bool:
        """Whether ``flag`` holds on any process (every process gets the same answer)."""
        if not self.active:
            return bool(flag)
        return bool(self.sum(torch.tensor([float(bool(flag))], device=device)).item() > 0)

    def check_same(self, what: str, values: Iterable[float], device: torch.device | str = "cpu") -> None:
        """Raise :class:`ValidationError` on every process unless ``values`` are the same on
        all (every process gives as many values)."""
        if not self.active:
            return
        mine = torch.tensor([float(v) for v in values], dtype=torch.float64, device=device)
        gathered = [torch.empty_like(mine) for _ in range(self.world_size)]
        dist.all_gather(gathered, mine)
        for rank, theirs in enumerate(gathered):
            if not torch.equal(theirs, gathered[0]):
                raise ValidationError(
                    f"every process of data-parallel training must be given the same {what}: rank {rank} has "
                    f"{theirs.tolist()}, rank 0 {gathered[0].tolist()} (each process shards the SKUs itself)")

    def barrier(self) -> None:
        """Wait until every process gets here (e.g. until rank 0 has written its files)."""
        if self.active:
            dist.barrier()


SINGLE = DataParallel(0, 1)
"""One process: every method is a no-op."""


def fingerprint(text: str) -> float:
    """A number standing for ``text`` (CRC-32), for :meth:`DataParallel.check_same`."""
    return float(zlib.crc32(text.encode()))


def data_fingerprint(inp: Any) -> list[float]:
    """SKUs, periods, demand sum, number of features and their sum (float64) of a prepared
    input, for :meth:`DataParallel.check_same`."""
    features = None if inp.features is None else decode_features(inp.features)
    return [float(inp.n_skus), float(inp.n_periods), float(inp.demand.double().sum()),
            0.0 if features is None else float(features.shape[-1]),
            0.0 if features is None else float(features.double().nan_to_num().sum())]
