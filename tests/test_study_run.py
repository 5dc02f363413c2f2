"""genre's record of a study in a real SQLite MLflow store, without training: the study's best
model registered as ``genre-<study>`` (alias ``best``) and registered anew only when a resumed
study finds a better trial, and the ``· best`` mark on the best trial's run moving with it."""

from __future__ import annotations

from pathlib import Path

import optuna
from mlflow import MlflowClient
from mlflow.entities import LoggedModelOutput
from optuna.distributions import FloatDistribution
from optuna.trial import create_trial

from genre.study_run import BEST_MARK, RUN_ID_ATTR, StudyRun, register_best


def trial_run(client: MlflowClient, experiment: str, name: str) -> str:
    """A trial's run with a logged model, as genre.train leaves one."""
    run_id = client.create_run(experiment, run_name=name).info.run_id
    model = client.create_logged_model(experiment, name="model", source_run_id=run_id)
    client.log_outputs(run_id, [LoggedModelOutput(model.model_id, step=0)])
    return run_id


def add_trial(study: optuna.Study, value: float, run_id: str) -> None:
    study.add_trial(
        create_trial(
            params={"optim.lr": value / 100},
            distributions={"optim.lr": FloatDistribution(1e-4, 1e-1)},
            value=value,
            user_attrs={RUN_ID_ATTR: run_id},
        )
    )


def test_best_model_is_registered_again_only_when_a_better_trial_comes(tmp_path: Path) -> None:
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.create_experiment("studies")
    parent = StudyRun(client, client.create_run(experiment).info.run_id, experiment, "val/f1")
    study = optuna.create_study(study_name="demo", direction="maximize")
    first, second, third = (trial_run(client, experiment, f"trial {n}") for n in range(3))
    add_trial(study, 0.5, first)

    assert register_best(client, study, study.best_trial, "val/f1") == "genre-demo v1"
    parent._mark_best(first)
    version = client.get_model_version_by_alias("genre-demo", "best")
    assert (int(version.version), version.run_id) == (1, first)
    assert version.description == "Trial 0 of study 'demo': val/f1 0.5"
    assert client.get_run(first).info.run_name == f"trial 0{BEST_MARK}"

    # Resumed: a worse trial changes nothing, a better one is version 2 and takes the mark.
    add_trial(study, 0.4, second)
    assert register_best(client, study, study.best_trial, "val/f1") == "genre-demo v1"
    add_trial(study, 0.7, third)
    assert register_best(client, study, study.best_trial, "val/f1") == "genre-demo v2"
    parent._mark_best(third)
    version = client.get_model_version_by_alias("genre-demo", "best")
    assert (int(version.version), version.run_id) == (2, third)
    assert len(client.search_model_versions("name='genre-demo'")) == 2
    assert client.get_run(first).info.run_name == "trial 0"
    assert client.get_run(third).info.run_name == f"trial 2{BEST_MARK}"


def test_a_trial_without_a_model_registers_nothing(tmp_path: Path) -> None:
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.create_experiment("studies")
    study = optuna.create_study(study_name="toy", direction="maximize")
    add_trial(study, 1.0, client.create_run(experiment).info.run_id)
    assert register_best(client, study, study.best_trial, "val/score") is None
    assert client.search_registered_models() == []
