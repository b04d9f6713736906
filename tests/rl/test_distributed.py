"""Data-parallel DS and PPO (orkit.rl.distributed): two gloo processes started by torchrun take
the same steps as one process on the whole batch (issue 19: gradients to 1e-6 relative,
parameters after k steps to 1e-5), and a resumed two-process run ends as an uninterrupted one.

The two-process runs happen once per session (``two_processes``): this file, run as a script by
``python -m torch.distributed.run --nproc-per-node 2``, is the worker; each rank saves what it
computed, and the tests compare it with the one-process computation made here.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from orkit.core import InventoryProblem
from orkit.data import generate

DS = {"hidden_sizes": (16, 16), "batch_size": 3, "max_epochs": 3}  # 10 SKUs: minibatches 3, 3, 3, 1
PPO = {"hidden_sizes": (16, 16), "num_steps": 140, "total_timesteps": 420, "batch_size": 48, "update_epochs": 2,
       "ent_coef": 0.01}
# rows of a PPO minibatch the test splits over the processes (rank 0: rows 0-18, rank 1: 19-36)
N_ROWS, SPLIT = 37, 19
CLI = ["--policy", "ds", "--param", "max_epochs=2", "--param", "hidden_sizes=[16,16]"]  # + the data file


class Interrupt(Exception):
    pass


def _data():
    data = generate("deepstock-1", seed=0)
    train, validation, _ = data.splits()
    return train, validation, InventoryProblem(**data.metadata["problem"])


def _ds_gradient(train, validation, problem, dp_step: bool):
    """The gradient of DS's loss on 7 training trajectories at the initial weights: one process
    (``per_sku_loss(...).mean()``), or this process's share through ``sharded_step``."""
    from orkit.evaluation import per_sku_loss
    from orkit.rl._training import TrainingRun, setup
    from orkit.rl.ds import DSConfig, sharded_step
    from orkit.rl.rollout import subset_input
    from orkit.sim import simulate

    # no clipping: the gradients stay as summed
    s = setup(train, validation, problem, "base", DSConfig(**DS, max_grad_norm=1e9), DSConfig, None)
    run = TrainingRun("ds", s, problem, {})
    batch = torch.tensor([4, 0, 9, 2, 7, 5, 1])
    params = list(s.network.parameters())
    if dp_step:  # a step of size 0: the summed gradients stay in .grad (unclipped)
        sharded_step(run, batch, torch.optim.SGD(params, lr=0.0), problem, train.n_skus)
    else:
        ledger = simulate(run.policy, subset_input(s.train_input, batch), problem, ledger="lean", differentiable=True)
        scored = ledger.counted_periods > 0  # every SKU, but with lives (_with_lives)
        loss = per_sku_loss(ledger)[scored].mean()
        loss.backward()
    return [p.grad.clone() for p in params]


def _with_lives(train):
    """``train`` with SKUs 0 and 2 launched at period 10, 4 and 9 withdrawn after period 30, and
    SKU 7 living two periods only (its warm-up: no scored period, left out of the batch mean)."""
    from orkit.data import Dataset

    n, T = train.demand.shape
    first, last = torch.zeros(n, dtype=torch.int64).numpy(), torch.full((n,), T - 1, dtype=torch.int64).numpy()
    first[[0, 2, 7]] = 10
    last[[4, 9]], last[7] = 30, 11
    t = torch.arange(T).numpy()
    demand = train.demand * ((t >= first[:, None]) & (t <= last[:, None]))
    return Dataset(demand, features=train.features * ((t >= first[:, None]) & (t <= last[:, None]))[:, :, None],
                   feature_names=train.feature_names, life=(first, last), metadata=train.metadata)


def _ppo_minibatch(train, problem):
    """A PPO agent and a minibatch of ``N_ROWS`` rows (inputs, actions, log-probabilities,
    advantages of mean 3 and returns), seeded."""
    from orkit.rl import build_network, make_head
    from orkit.rl.ppo import PPOAgent, PPOConfig

    config = PPOConfig(**PPO)
    actor = build_network(train, problem, make_head("base"), config)
    torch.manual_seed(0)
    agent = PPOAgent(actor, config.hidden_sizes, config.activation, config.initial_action_std)
    g = torch.Generator().manual_seed(1)
    n_in = actor.encoder.n_inputs
    critic_input = torch.randn(N_ROWS, n_in + 1, generator=g)
    action = torch.randn(N_ROWS, 1, generator=g) * 0.1 + 0.5
    old_logprob = torch.randn(N_ROWS, generator=g) * 0.05 + 1.0
    advantages = torch.randn(N_ROWS, generator=g) * 2 + 3
    returns = torch.randn(N_ROWS, generator=g)
    return agent, config, n_in, (critic_input, action, old_logprob, advantages, returns)


def _ppo_gradient(train, problem, dp=None, rows=slice(None)):
    """The gradient of ``ppo_loss`` on the minibatch (advantages normalised), and its losses."""
    from orkit.rl.ppo import ppo_loss

    agent, config, n_in, (critic_input, action, old_logprob, advantages, returns) = _ppo_minibatch(train, problem)
    loss, pg_loss, v_loss, _ = ppo_loss(agent, config, critic_input[rows, :n_in], critic_input[rows], action[rows],
                                        old_logprob[rows], advantages[rows], returns[rows],
                                        **({} if dp is None else {"dp": dp, "batch_size": N_ROWS}))
    params = list(agent.parameters())
    loss.backward()
    stats = torch.stack([pg_loss.detach(), v_loss.detach()])
    if dp is not None:
        stats = dp.reduce_gradients(params, stats)
    return [p.grad.clone() for p in params], stats


def _fit(cls, params, checkpoint_dir=None, **options):
    train, validation, problem = _data()
    policy = cls("base", checkpoint_dir=checkpoint_dir, **params, **options).fit(train, validation, problem)
    return {"history": policy.history_, "state": policy.policy_.network.state_dict()}


def _interrupted_then_resumed(cls, params, folder):
    def interrupt(entry):
        if len(seen) == 2:
            raise Interrupt
        seen.append(entry)

    seen: list = []
    try:
        _fit(cls, params, folder, callback=interrupt)
    except Interrupt:
        pass
    return _fit(cls, params, folder, resume=True)


def worker(out: Path) -> None:
    """One rank of the two-process runs (started by torchrun)."""
    from orkit.rl import DSPolicy, PPOPolicy
    from orkit.rl.distributed import current

    torch.set_num_threads(1)
    dp = current()  # joins torchrun's gloo group
    assert dp.world_size == 2
    train, validation, problem = _data()
    results = {"ds_gradient": _ds_gradient(train, validation, problem, dp_step=True),
               "ds_gradient_lives": _ds_gradient(_with_lives(train), validation, problem, dp_step=True)}
    results["ppo_gradient"] = _ppo_gradient(train, problem, dp, slice(0, SPLIT) if dp.rank == 0 else slice(SPLIT, None))
    results["ds"] = _fit(DSPolicy, DS)
    results["ds_resumed"] = _interrupted_then_resumed(DSPolicy, DS, out / "ds-checkpoint")
    results["ppo"] = _fit(PPOPolicy, PPO)
    results["ppo_resumed"] = _interrupted_then_resumed(PPOPolicy, PPO, out / "ppo-checkpoint")
    results["cli"] = _cli(out / "data.csv", out / "cli")  # `torchrun -m orkit evaluate ...` on this rank
    results["refusals"] = _refusals(dp.rank, out)
    torch.save(results, out / f"rank{dp.rank}.pt")


def _refusals(rank: int, out: Path) -> list[str]:
    """What each process is told when the processes were given different data, or when only
    rank 0 finds a training state to resume from."""
    from orkit.core import ValidationError
    from orkit.rl import DSPolicy

    train, validation, problem = _data()
    messages = []
    for attempt in ("data", "resume"):
        try:
            if attempt == "data":
                DSPolicy("base", **DS).fit(train if rank == 0 else train.demand[1:], validation, problem)
            else:
                _fit(DSPolicy, DS, out / ("ds-checkpoint" if rank == 0 else f"empty-{rank}"), resume=True)
            messages.append("")
        except ValidationError as exc:
            messages.append(str(exc))
    return messages


def _cli(data: Path, checkpoint_dir: Path) -> tuple[int, str]:
    from orkit.cli.main import main

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["evaluate", str(data), *CLI, "--param", f"checkpoint_dir={checkpoint_dir}"])
    return code, printed.getvalue()


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    """What each of two gloo processes computed (``worker``), by rank. Run once per test session:
    under pytest-xdist the first worker to get here runs it, the others wait and read it."""
    from orkit.cli.main import main

    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # this session's folder
    out = shared / "orkit-two-processes"
    with open(shared / "orkit-two-processes.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / "done").exists():
            out.mkdir(exist_ok=True)
            with contextlib.redirect_stdout(io.StringIO()):
                assert main(["generate", "deepstock-1", "--out", str(out / "data.csv"), "--force"]) == 0
            env = {**os.environ, "OMP_NUM_THREADS": "1"}
            done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
                                   "2", __file__, str(out)], env=env, capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
            (out / "done").write_text("")
    return [torch.load(out / f"rank{r}.pt", weights_only=False) for r in range(2)], out


@pytest.fixture(scope="module")
def data():
    return _data()


def _relative(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    flat_a, flat_b = torch.cat([x.reshape(-1) for x in a]), torch.cat([x.reshape(-1) for x in b])
    return float((flat_a - flat_b).norm() / flat_b.norm())


def _numbers(history):
    return [{k: v for k, v in h.items() if k != "seconds"} for h in history]


def _close(history_a, history_b, rtol=1e-5, atol=1e-6):
    """Histories equal to ``rtol``, or ``atol`` for values near 0: PPO's policy loss is a mean
    of terms of order 1 that cancel (the advantages are normalised), so float32 sums in
    another order differ there by ~1e-9 absolute, not relative."""
    assert len(history_a) == len(history_b)
    for a, b in zip(_numbers(history_a), _numbers(history_b)):
        assert a.keys() == b.keys()
        for k in a:
            if isinstance(a[k], float) and isinstance(b[k], float):
                assert a[k] == pytest.approx(b[k], rel=rtol, abs=atol), k
            else:
                assert a[k] == b[k], k


def test_ds_gradient_of_two_shards_is_the_whole_batch_gradient(two_processes, data):
    ranks, _ = two_processes
    one = _ds_gradient(*data, dp_step=False)
    for r in ranks:  # minibatch of 7: shards of 4 and 3 trajectories
        assert _relative(r["ds_gradient"], one) < 1e-6
    assert all(torch.equal(a, b) for a, b in zip(ranks[0]["ds_gradient"], ranks[1]["ds_gradient"]))


def test_ds_gradient_with_lives_is_the_mean_over_the_batchs_scored_skus(two_processes, data):
    ranks, _ = two_processes
    train, validation, problem = data
    one = _ds_gradient(_with_lives(train), validation, problem, dp_step=False)
    for r in ranks:  # shards of 4 and 3 trajectories; SKU 7 (second shard) has no scored period
        assert _relative(r["ds_gradient_lives"], one) < 1e-6


def test_ppo_gradient_with_advantages_normalised_over_both_shards(two_processes, data):
    """The advantages (mean 3, std 2) are normalised with the whole minibatch's mean and
    standard deviation: a shard normalised on its own would give another gradient."""
    ranks, _ = two_processes
    grads, stats = _ppo_gradient(data[0], data[2])
    for r in ranks:
        assert _relative(r["ppo_gradient"][0], grads) < 1e-6
        torch.testing.assert_close(r["ppo_gradient"][1], stats, rtol=1e-6, atol=0)
    # the check has power: normalising each shard by itself moves the gradient far more than 1e-6
    local = _ppo_gradient(data[0], data[2], rows=slice(0, SPLIT))[0]
    assert _relative(local, grads) > 1e-3


@pytest.mark.parametrize("learner", ["ds", "ppo"])
def test_two_processes_train_as_one_on_the_whole_batch(two_processes, learner):
    """k steps (DS: 3 epochs of 4 minibatches, the last one trajectory, so one process has
    none; PPO: 3 updates x 2 epochs x 3 minibatches): the same weights to 1e-5 and the same
    history (losses, validation losses, PPO's statistics) to 1e-5 relative."""
    from orkit.rl import DSPolicy, PPOPolicy

    ranks, _ = two_processes
    one = _fit(DSPolicy, DS) if learner == "ds" else _fit(PPOPolicy, PPO)
    for r in ranks:
        got = r[learner]
        for k, v in one["state"].items():
            torch.testing.assert_close(got["state"][k], v, rtol=1e-5, atol=1e-5)
        _close(got["history"], one["history"])
    assert _numbers(ranks[0][learner]["history"]) == _numbers(ranks[1][learner]["history"])  # the ranks agree


@pytest.mark.parametrize("learner", ["ds", "ppo"])
def test_a_resumed_two_process_run_ends_as_an_uninterrupted_one(two_processes, learner):
    ranks, out = two_processes
    for r in ranks:
        assert _numbers(r[f"{learner}_resumed"]["history"]) == _numbers(r[learner]["history"])
        a, b = r[f"{learner}_resumed"]["state"], r[learner]["state"]
        assert all(torch.equal(a[k], b[k]) for k in a)
    assert (out / f"{learner}-checkpoint" / "training_state.pt").is_file()
    assert (out / f"{learner}-checkpoint" / "policy" / "policy.json").is_file()  # written by rank 0


def _metrics(printed: str) -> dict[str, float]:
    rows = [line.split() for line in printed.split("metric", 1)[1].splitlines()]
    return {row[0]: float(row[1]) for row in rows if len(row) == 2}


def test_torchrun_evaluate_fits_data_parallel_and_prints_once(two_processes, tmp_path):
    """``torchrun --nproc-per-node 2 -m orkit evaluate DATA --policy ds ...``: rank 0 prints the
    metrics of the one-process fit (to rounding) and writes the policy; rank 1 prints nothing."""
    ranks, out = two_processes
    (code0, printed0), (code1, printed1) = ranks[0]["cli"], ranks[1]["cli"]
    assert code0 == code1 == 0 and printed1 == ""
    one = _cli(out / "data.csv", tmp_path / "one")
    assert one[0] == 0
    assert _metrics(printed0) == pytest.approx(_metrics(one[1]), rel=1e-3)
    assert printed0.splitlines()[:3] == one[1].splitlines()[:3]  # data, problem and fit lines
    assert (out / "cli" / "policy" / "policy.json").is_file()


def test_processes_given_different_data_or_states_refuse_on_every_rank(two_processes):
    ranks, _ = two_processes
    for r in ranks:
        data, resume = r["refusals"]
        assert "must be given the same train data" in data and "rank 1 has [9.0, 31.0," in data
        assert "must be given the same training state to resume from" in resume


def test_other_commands_are_refused_under_torchrun(monkeypatch, capsys, tmp_path):
    from orkit.cli.main import main

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    assert main(["generate", "deepstock-1", "--out", str(tmp_path / "d.csv")]) == 2
    assert "only evaluate" in capsys.readouterr().err and not (tmp_path / "d.csv").exists()


def test_ddpg_is_refused_with_several_processes(data, monkeypatch):
    """DDPG has no data-parallel path: under a process group it refuses rather than train
    the same thing in every process."""
    from orkit.core import ValidationError
    from orkit.rl import DDPGPolicy
    from orkit.rl import _training
    from orkit.rl.distributed import DataParallel

    monkeypatch.setattr(_training, "current", lambda: DataParallel(0, 2))
    monkeypatch.setattr(DataParallel, "check_same", lambda *args, **kwargs: None)
    with pytest.raises(ValidationError, match="DDPG trains in one process"):
        DDPGPolicy("base", total_timesteps=10).fit(data[0], data[1], data[2])


def test_ppo_needs_a_trajectory_per_process_in_every_rollout(data, monkeypatch):
    from orkit.core import ValidationError
    from orkit.rl import PPOPolicy
    from orkit.rl import _training
    from orkit.rl.distributed import DataParallel

    monkeypatch.setattr(_training, "current", lambda: DataParallel(0, 16))
    monkeypatch.setattr(DataParallel, "check_same", lambda *args, **kwargs: None)
    with pytest.raises(ValidationError, match=r"10 trajectories of 14 review steps from num_steps=140; "
                                              r"num_steps >= 224 does"):
        PPOPolicy("base", **PPO).fit(*data)


def test_one_process_runs_without_a_process_group(data):
    from orkit.rl.distributed import SINGLE, current

    assert current() is SINGLE and not SINGLE.active and SINGLE.bounds(5) == (0, 5)


def test_shards_cover_the_batch_in_order():
    from orkit.rl.distributed import DataParallel

    for n in range(0, 9):
        bounds = [DataParallel(r, 3).bounds(n) for r in range(3)]
        assert [b - a for a, b in bounds] == [len(x) for x in torch.arange(n).tensor_split(3)]
        assert bounds[0][0] == 0 and bounds[-1][1] == n and all(bounds[i][1] == bounds[i + 1][0] for i in range(2))


if __name__ == "__main__":  # a rank of the two-process runs
    worker(Path(sys.argv[1]))
