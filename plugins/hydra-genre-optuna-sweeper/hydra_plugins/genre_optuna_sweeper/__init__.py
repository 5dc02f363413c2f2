"""Hydra sweeper plugin `genre_optuna`: Optuna ask/tell studies launched through Hydra.

Hydra imports every public module here when it scans for plugins, so the heavy code (Optuna)
lives in private modules that are imported only when a sweep runs. The public ones are its API:
`job` (a job's trial, for pruning), `tracker` (an app's record of its studies), `errors` and
`urls`.
"""
