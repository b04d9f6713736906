"""Tiny budgets and settings with which every registered policy fits in about a second, for the
tests that run every family (importable from any test: ``tests`` is on pytest's pythonpath)."""

SMALL = {
    "gradient-boosting-newsvendor": dict(n_estimators=20),
    "weighted-saa-newsvendor": dict(n_neighbors=10),
    "two-stage": dict(n_scenarios=10, n_threads=1),
    "ds": dict(max_epochs=2, hidden_sizes=(8,)),
    "ppo": dict(total_timesteps=280, num_steps=140, hidden_sizes=(8,)),
    "ddpg": dict(total_timesteps=112, learning_starts=56, eval_every=56, batch_size=32, hidden_sizes=(8,)),
}
