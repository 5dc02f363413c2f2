"""A user's own sampler class, which conf/hydra/sweeper/sampler/own.yaml gives the sweeper
by its dotpath."""

from optuna.samplers import RandomSampler


class OwnSampler(RandomSampler):
    """Optuna's random sampler under another name."""
