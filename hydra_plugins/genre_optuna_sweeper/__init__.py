"""Hydra sweeper plugin `genre_optuna`: Optuna ask/tell studies launched through Hydra.

Hydra imports every public module here when it scans for plugins, so the heavy code (Optuna,
MLflow, matplotlib) lives in private modules that are imported only when a sweep runs.
"""
