"""MLflow's side of a sweep: one parent run per study with its setup, summary and plots, under
which each trial's job logs its child run.

This is genre's tracker of the genre_optuna sweeper (its `hydra.sweeper.tracker`, set in
conf/hydra/sweeper/genre.yaml): the sweeper knows nothing of MLflow, it calls `open_study_run`
and the `StudyTracker` methods of what it returns. MLflow is imported only for a task config
with `mlflow.tracking_uri`."""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna
import yaml
from hydra_plugins.genre_optuna_sweeper.errors import first_line
from omegaconf import DictConfig, OmegaConf
from optuna.trial import FrozenTrial, TrialState

from genre.errors import GenreError, tracking_reason
from genre.util import mlflow_fail_fast, ui_link, without_password

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

log = logging.getLogger(__name__)

STUDY_TAG = "optuna.study_name"
STORAGE_TAG = "optuna.storage"
ROLE_TAG = "genre.role"
PARENT_RUN_ENV = "GENRE_MLFLOW_PARENT_RUN_ID"
"""The study's parent run, in each trial job's environment (conf/config.yaml reads it)."""
RUN_ID_ATTR = "mlflow_run_id"
"""Trial user attr where a job leaves its MLflow run id, for the sweep's summary table."""
PARENT_ATTR = "mlflow_parent_run_id"
"""Study user attr naming the parent run, so that every worker and every resume reuses it."""
DEAD_RUN_ERROR = "the trial's worker or job process stopped mid-trial (killed, out of memory, lost)"


def open_study_run(
    config: DictConfig, study: optuna.Study, description: dict[str, Any]
) -> StudyRun | None:
    """The sweeper's `hydra.sweeper.tracker`: the study's parent run, None without
    `mlflow.tracking_uri` in the task config."""
    return StudyRun.open(config, study, description)


class StudyRun:
    """The study's MLflow parent run; each trial's job logs a child run under it. A
    `StudyTracker` of the genre_optuna sweeper."""

    column = "mlflow run"

    def __init__(
        self, client: MlflowClient, run_id: str, experiment_id: str, objective: str | None = None
    ) -> None:
        self.client = client
        self.run_id, self.experiment_id = run_id, experiment_id
        self.uri = client.tracking_uri
        self.objective = objective  # the name of what the jobs return, for the figures

    @classmethod
    def open(
        cls, config: DictConfig, study: optuna.Study, description: dict[str, Any]
    ) -> StudyRun | None:
        """Find the study's parent run (resume, other workers) or create it; None when the
        task config has no `mlflow.tracking_uri`.

        Call it, and `finish`, under the study's admission lock: workers that start or end
        together would otherwise each create a parent run, or write the same tag at once,
        which MLflow's stores refuse.
        """
        uri = OmegaConf.select(config, "mlflow.tracking_uri")
        if not uri:
            log.info("No mlflow.tracking_uri in the config: the sweep is not tracked in MLflow")
            return None
        from mlflow.tracking import MlflowClient

        experiment = OmegaConf.select(config, "mlflow.experiment") or "Default"
        try:
            with mlflow_fail_fast():
                client = MlflowClient(tracking_uri=uri)
                experiment_id = _experiment_id(client, experiment)
                storage = description["storage"]
                run_id = _find_parent(client, experiment_id, study, storage) or _create_parent(
                    client, experiment_id, study, storage
                )
                client.update_run(run_id, status="RUNNING")
        except Exception as e:
            raise GenreError(
                f"Cannot create the study's MLflow run at {without_password(uri)}: "
                f"{tracking_reason(e)} (or start the tracking server, or fix mlflow.tracking_uri)."
            ) from e
        run = cls(client, run_id, experiment_id, description["objective"])
        run._log_setup(description)
        question = sweep_question(config)
        if question:
            client.set_tag(run_id, "mlflow.note.content", question)
        log.info("MLflow parent run %s in experiment %r", run_id, experiment)
        return run

    def _log_summary(self, study: optuna.Study) -> None:
        """Trial counts, the best trial (the Pareto front for several objectives) and the
        study's plots."""
        trials = study.get_trials(deepcopy=False)
        complete = [t for t in trials if t.state == TrialState.COMPLETE]
        metrics = {
            "n_complete": len(complete),
            "n_pruned": sum(t.state == TrialState.PRUNED for t in trials),
            "n_failed": sum(t.state == TrialState.FAIL for t in trials),
        }
        if complete and _is_multi_objective(study):
            front = study.best_trials
            metrics["n_pareto"] = len(front)
            self.client.log_text(
                self.run_id,
                json.dumps([_describe(t) for t in front], indent=2),
                "pareto_front.json",
            )
        elif complete:
            best = study.best_trial
            metrics |= {"best_value": best.value, "best_trial_number": best.number}
            for name, value in best.params.items():
                self.client.set_tag(self.run_id, f"best.{name}", str(value))
            self.client.log_text(
                self.run_id, json.dumps(_describe(best), indent=2), "best_trial.json"
            )
        for key, value in metrics.items():
            self.client.log_metric(self.run_id, key, float(value), step=len(trials))
        self._log_plots(study, complete)
        if any(t.intermediate_values for t in trials):
            figure = curves_figure(study, self.objective)
            self.client.log_figure(self.run_id, figure, "plots/trial_curves.png")

    def finish(self, study: optuna.Study) -> None:
        """Log the summary and end the run as FINISHED."""
        try:
            self._log_summary(study)
            self.client.set_terminated(self.run_id, status="FINISHED")
        except Exception as e:
            raise GenreError(
                f"The sweep is done but its summary could not be logged to {self.uri} "
                f"({first_line(e)}); run the same command again when the server is back: it adds "
                "no trials and logs the summary."
            ) from e

    def end(self, status: str) -> None:
        """End the run early (interrupted, failed); a tracking server that is gone too is only
        logged, so that the error that ended the sweep is the one reported."""
        try:
            with mlflow_fail_fast():
                self.client.set_terminated(self.run_id, status=status)
        except Exception as e:
            log.warning("Could not mark the study's MLflow run %s: %s", status, first_line(e))

    def unreachable(self) -> str | None:
        """Why the tracking server does not answer, or None when it does."""
        try:
            with mlflow_fail_fast():
                self.client.get_run(self.run_id)
        except Exception as e:
            return f"The MLflow tracking server {self.uri} stopped answering ({first_line(e)})"
        return None

    def job_env(self) -> dict[str, str]:
        return {PARENT_RUN_ENV: self.run_id}

    def trial_record(self, trial: FrozenTrial) -> str | None:
        return trial.user_attrs.get(RUN_ID_ATTR)

    def link(self) -> str:
        return ui_link(self.uri, self.experiment_id, self.run_id)

    def close_dead(self, trials: list[FrozenTrial]) -> None:
        """End the MLflow runs that failed trials left RUNNING: their worker was killed, or lost
        the tracking server, before it could end them."""
        for trial in trials:
            run_id = trial.user_attrs.get(RUN_ID_ATTR)
            if trial.state != TrialState.FAIL or run_id is None:
                continue
            try:
                with mlflow_fail_fast():
                    if self.client.get_run(run_id).info.status != "RUNNING":
                        continue
                    self.client.set_tag(run_id, "trial_state", "FAIL")
                    self.client.set_tag(run_id, "error", DEAD_RUN_ERROR)
                    self.client.set_terminated(run_id, status="FAILED")
                log.info("Ended MLflow run %s of dead trial %d as FAILED", run_id, trial.number)
            except Exception as e:  # best effort: the next sweep start tries again
                log.warning(
                    "Could not end the MLflow run of trial %d: %s", trial.number, first_line(e)
                )

    def _log_setup(self, description: dict[str, Any]) -> None:
        tags = {
            "optuna.direction": ",".join(description["directions"]),
            "optuna.sampler": description["sampler"],
            "optuna.pruner": description["pruner"],
            "optuna.n_trials": description["n_trials"],
            "optuna.objective": description["objective"],
            "genre.sweep": description["sweep_file"],
        }
        for key, value in tags.items():
            if value is not None:
                self.client.set_tag(self.run_id, key, str(value))
        self.client.log_text(
            self.run_id, yaml.safe_dump(description, sort_keys=False), "sweep.yaml"
        )

    def _log_plots(self, study: optuna.Study, complete: list[FrozenTrial]) -> None:
        from optuna.visualization import matplotlib as plots

        makers: dict[str, Callable[[optuna.Study], Any]] = (
            # Optuna draws the others for one objective at a time only.
            {"pareto_front": plots.plot_pareto_front}
            if _is_multi_objective(study)
            else {
                "optimization_history": plots.plot_optimization_history,
                "parallel_coordinate": plots.plot_parallel_coordinate,
                "param_importances": plots.plot_param_importances,
            }
        )
        for name, make in makers.items():
            reason = _why_no_plot(name, complete) or self._log_plot(name, make, study)
            if reason is not None:
                log.info("No %s plot: %s", name, reason)
            # A tag either way: a resumed study's tag must not keep an old run's reason.
            self.client.set_tag(self.run_id, f"plots.{name}", reason or "logged")

    def _log_plot(
        self, name: str, make: Callable[[optuna.Study], Any], study: optuna.Study
    ) -> str | None:
        """Draw and log one plot; the reason when it cannot be drawn."""
        import matplotlib

        matplotlib.use("Agg")  # headless: a sweep runs on servers and in CI
        import matplotlib.pyplot as plt

        try:
            with warnings.catch_warnings():  # matplotlib's and Optuna's chatter
                warnings.simplefilter("ignore")
                figure = make(study).figure
                figure.tight_layout()
        except Exception as e:  # a plot is a nicety; never fail a finished sweep for it
            return first_line(e)
        self.client.log_figure(self.run_id, figure, f"plots/{name}.png")
        plt.close(figure)
        return None


def sweep_question(config: DictConfig) -> str | None:
    """The question a sweep file asks: the first paragraph of its header comment (up to a
    blank comment line or an indented command), for the parent run's description."""
    name = OmegaConf.select(config, "hydra.runtime.choices.sweeps")
    sources = OmegaConf.select(config, "hydra.runtime.config_sources") or []
    for source in sources:
        path = Path(source.path) / "sweeps" / f"{name}.yaml"
        if name and source.schema == "file" and path.is_file():
            lines = []
            for line in path.read_text().splitlines():
                if not line.startswith("#"):
                    break
                text = line[1:]
                if text.strip().startswith("@package") or not lines and not text.strip():
                    continue
                if not text.strip() or text.startswith("   "):
                    break
                lines.append(text.strip())
            return " ".join(lines) or None
    return None


def curves_figure(study: optuna.Study, objective: str | None) -> Any:
    """Every trial's reported values per step (a training job's validation objective per
    epoch), pruned trials marked where they stopped, the best trial drawn bold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    trials = [t for t in study.get_trials(deepcopy=False) if t.intermediate_values]
    best = study.best_trial.number if any(t.state == TrialState.COMPLETE for t in trials) else None
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for trial in trials:
        steps, values = zip(*sorted(trial.intermediate_values.items()), strict=True)
        bold = trial.number == best
        style = (
            {"color": "black", "linewidth": 2, "label": f"best: trial {best}"}
            if bold
            else {
                "color": "tab:blue",
                "alpha": 0.35,
                "linewidth": 1,
            }
        )
        ax.plot(steps, values, **style)
        if trial.state == TrialState.PRUNED:
            ax.scatter([steps[-1]], [values[-1]], marker="x", color="tab:red", zorder=3)
    ax.scatter([], [], marker="x", color="tab:red", label="pruned here")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("step (epoch)")
    ax.set_ylabel(objective or "reported value")
    ax.set_title(f"Study {study.study_name!r}: every trial's curve")
    ax.legend(fontsize=8)
    fig.tight_layout()
    plt.close(fig)
    return fig


def _is_multi_objective(study: optuna.Study) -> bool:
    return len(study.directions) > 1


def _why_no_plot(name: str, complete: list[FrozenTrial]) -> str | None:
    if not complete:
        return "no complete trials"
    varying = [p for p in complete[0].params if len({repr(t.params.get(p)) for t in complete}) > 1]
    if name == "parallel_coordinate" and not complete[0].params:
        return "the search space is empty"
    if name == "param_importances" and (len(complete) < 2 or not varying):
        return "needs 2 or more complete trials whose parameters differ"
    return None


def _describe(trial: FrozenTrial) -> dict[str, Any]:
    values = {"value": trial.value} if len(trial.values) == 1 else {"values": trial.values}
    return {
        "number": trial.number,
        **values,
        "params": trial.params,
        RUN_ID_ATTR: trial.user_attrs.get(RUN_ID_ATTR),
    }


def _experiment_id(client: MlflowClient, name: str) -> str:
    from mlflow.exceptions import MlflowException

    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    try:
        return client.create_experiment(name)
    except MlflowException:  # another worker created it just now
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            raise
        return experiment.experiment_id


def _find_parent(
    client: MlflowClient, experiment_id: str, study: optuna.Study, storage: str
) -> str | None:
    return _parent_from_study(client, study) or _parent_from_tags(
        client, experiment_id, study.study_name, storage
    )


def _parent_from_study(client: MlflowClient, study: optuna.Study) -> str | None:
    from mlflow.exceptions import MlflowException

    run_id = study.user_attrs.get(PARENT_ATTR)
    if run_id is None:
        return None
    try:
        run = client.get_run(run_id)
    except MlflowException:  # the study was tracked in another MLflow store
        return None
    return run_id if run.data.tags.get(STUDY_TAG) == study.study_name else None


def _parent_from_tags(
    client: MlflowClient, experiment_id: str, study_name: str, storage: str
) -> str | None:
    query = (
        f"tags.`{STUDY_TAG}` = '{study_name}' and tags.`{STORAGE_TAG}` = '{storage}' "
        f"and tags.`{ROLE_TAG}` = 'study'"
    )
    runs = client.search_runs([experiment_id], query, order_by=["attributes.start_time ASC"])
    parents = [run for run in runs if "mlflow.parentRunId" not in run.data.tags]
    return parents[0].info.run_id if parents else None


def _create_parent(
    client: MlflowClient, experiment_id: str, study: optuna.Study, storage: str
) -> str:
    tags = {STUDY_TAG: study.study_name, STORAGE_TAG: storage, ROLE_TAG: "study"}
    run = client.create_run(experiment_id, run_name=f"study {study.study_name}", tags=tags)
    study.set_user_attr(PARENT_ATTR, run.info.run_id)
    return run.info.run_id
