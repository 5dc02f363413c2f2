"""MLflow's side of a sweep: one parent run per study with its setup, summary and plots, under
which each trial's job logs its child run.

This is genre's tracker of the genre_optuna sweeper (its `hydra.sweeper.tracker`, set in
conf/hydra/sweeper/genre.yaml): the sweeper knows nothing of MLflow, it calls `open_study_run`
and the `StudyTracker` methods of what it returns. MLflow is imported only for a task config
with `mlflow.tracking_uri`."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import optuna
import pandas as pd
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
SHARED_VIEW_TAG = "mlflow.sharedViewState."
BEST_MARK = " · best"
"""The end of the best trial's run name."""
BEST_RUN_TAG = "optuna.best_run_id"
BEST_ALIAS = "best"
"""The alias of the registered model's version from the best trial: models:/genre-<study>@best."""
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
        self.settings = ""  # the study's settings, atop the run's description
        self.searched: list[str] = []  # the params the study searches

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
        run._log_setup(study, description)
        log.info("MLflow parent run %s in experiment %r", run_id, experiment)
        return run

    def _log_summary(self, study: optuna.Study) -> None:
        """Trial counts, the best trial (the Pareto front for several objectives): its value as
        the metric the trials log (``best_<objective>``), its params as params, its run marked
        and its model registered; a table of every trial, and the study's plots."""
        trials = study.get_trials(deepcopy=False)
        complete = [t for t in trials if t.state == TrialState.COMPLETE]
        counts = {
            "complete": len(complete),
            "pruned": sum(t.state == TrialState.PRUNED for t in trials),
            "failed": sum(t.state == TrialState.FAIL for t in trials),
        }
        self.client.set_tag(self.run_id, "optuna.trials", _counts_text(counts))
        summary = f"{len(trials)} trials: {_counts_text(counts)}"
        if complete and _is_multi_objective(study):
            front = study.best_trials
            summary += f" · {len(front)} on the Pareto front (pareto_front.json)"
            self.client.log_text(
                self.run_id,
                json.dumps([_describe(t) for t in front], indent=2),
                "pareto_front.json",
            )
        elif complete:
            best = study.best_trial
            self.client.log_metric(
                self.run_id, f"best_{self.objective}", float(best.value), step=len(trials)
            )
            self._log_params(best.params)
            self.client.set_tag(self.run_id, "optuna.best_trial", str(best.number))
            self.client.log_text(
                self.run_id, json.dumps(_describe(best), indent=2), "best_trial.json"
            )
            summary += f" · best: trial {best.number}, {self.objective} {best.value:.4g}"
            run_id = best.user_attrs.get(RUN_ID_ATTR)
            if run_id is not None:
                self._mark_best(run_id)
                # The objective on the test split too, where the trials log it.
                scores = self.client.get_run(run_id).data.metrics
                test = f"test/{str(self.objective).partition('/')[2]}"
                columns = [f"best_{self.objective}"] + ([test] if test in scores else [])
                self._log_view(study, columns)
                version = register_best(self.client, study, best, self.objective)
                if version is not None:
                    summary += f", registered as {version}"
        self._describe(summary)
        self.client.log_text(self.run_id, trials_table(trials).to_csv(index=False), "trials.csv")
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
        return ui_link(self.uri, self.experiment_id, view=self.view)

    @property
    def view(self) -> str:
        """The key of the study's view of the runs table (`runs_view`)."""
        return hashlib.sha256(self.run_id.encode()).hexdigest()[:16]

    def _log_view(self, study: optuna.Study, metrics: list[str]) -> None:
        """The study's trials in the runs table, best first, with ``metrics`` and the searched
        params as columns: MLflow 3.17's UI has no default columns, but opens a view shared as
        an experiment tag (its Share button's) from a link."""
        direction = study.directions[0] if len(study.directions) == 1 else None
        state = runs_view(study.study_name, metrics, self.searched, direction)
        self.client.set_experiment_tag(
            self.experiment_id, f"{SHARED_VIEW_TAG}{self.view}", json.dumps(state)
        )

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

    def _log_setup(self, study: optuna.Study, description: dict[str, Any]) -> None:
        """The sweep's real settings: as tags and in the run's description (the latest
        session's), in ``sweep.yaml``, and its fixed overrides as params."""
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
        # The fixed overrides as params, under the keys the trials log them with.
        self._log_params(dict(_override(line) for line in description["fixed"]))
        self.client.log_text(
            self.run_id, yaml.safe_dump(description, sort_keys=False), "sweep.yaml"
        )
        self.settings = settings_text(study, description)
        self._describe(None)
        self.searched = list(description["params"])
        self._log_view(study, [f"best_{self.objective}"])

    def _describe(self, summary: str | None) -> None:
        text = self.settings + (f"\n\n{summary}" if summary else "")
        self.client.set_tag(self.run_id, "mlflow.note.content", text)

    def _log_params(self, params: dict[str, Any]) -> None:
        """Log what the run does not hold yet: MLflow keeps a param's first value for good, so a
        resumed study's new best trial or settings show in its tags and description instead."""
        held = self.client.get_run(self.run_id).data.params
        new = {key: str(value)[:6000] for key, value in params.items() if key not in held}
        for key, value in new.items():
            self.client.log_param(self.run_id, key, value)

    def _mark_best(self, run_id: str) -> None:
        """The best trial's run named so (``… · best``), the mark gone from the run that was
        the best before a resume."""
        before = self.client.get_run(self.run_id).data.tags.get(BEST_RUN_TAG)
        if before not in (None, run_id):
            old = self.client.get_run(before).info.run_name
            self.client.update_run(before, name=old.removesuffix(BEST_MARK))
        name = self.client.get_run(run_id).info.run_name
        if not name.endswith(BEST_MARK):
            self.client.update_run(run_id, name=f"{name}{BEST_MARK}"[:250])
        self.client.set_tag(self.run_id, BEST_RUN_TAG, run_id)

    def _log_plots(self, study: optuna.Study, complete: list[FrozenTrial]) -> None:
        from optuna.visualization import matplotlib as plots

        makers: dict[str, Callable[[optuna.Study], Any]] = (
            # Optuna draws the others for one objective at a time only.
            {"pareto_front": lambda study: _tight(plots.plot_pareto_front(study).figure)}
            if _is_multi_objective(study)
            else {
                "optimization_history": lambda study: history_figure(study, self.objective),
                "parallel_coordinate": lambda study: _fit_labels(
                    plots.plot_parallel_coordinate(study).figure
                ),
                "param_importances": lambda study: _tight(
                    plots.plot_param_importances(study).figure
                ),
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
                figure = make(study)
        except Exception as e:  # a plot is a nicety; never fail a finished sweep for it
            return first_line(e)
        self.client.log_figure(self.run_id, figure, f"plots/{name}.png")
        plt.close(figure)
        return None


def runs_view(
    study_name: str,
    metrics: list[str],
    params: list[str],
    direction: optuna.study.StudyDirection | None,
) -> dict[str, Any]:
    """A view of the runs table as MLflow 3.17's UI shares one (an experiment tag
    ``mlflow.sharedViewState.<key>``, opened by ``?viewStateShareKey=<key>``): the study's
    trials (the runs with its name and a trial number), best first, ``metrics`` and ``params``
    as columns after the name."""
    name = study_name.replace("'", "_")
    columns = [f"metrics.`{m}`" for m in metrics] + [f"params.`{p}`" for p in params]
    view: dict[str, Any] = {
        "searchFilter": f"tags.`{STUDY_TAG}` = '{name}' and tags.`optuna.trial_number` LIKE '%'",
        "selectedColumns": [*columns, "attributes.`Models`"],
    }
    if direction is not None and metrics:
        view["orderByKey"] = columns[0]
        view["orderByAsc"] = direction == optuna.study.StudyDirection.MINIMIZE
    return view


def settings_text(study: optuna.Study, description: dict[str, Any]) -> str:
    """The study's settings in a few lines, for its run's description."""
    directions = ", ".join(description["directions"])
    space = ", ".join(f"{name} {d}" for name, d in description["params"].items()) or "nothing"
    lines = [
        f"Optuna study {study.study_name!r}: up to {description['n_trials']} trials, "
        f"{directions} {description['objective']}",
        f"searching: {space}",
        f"sampler {description['sampler']}, pruner {description['pruner']}",
    ]
    if description["fixed"]:
        fixed = (f"{key}={value}" for key, value in map(_override, description["fixed"]))
        lines.append(f"fixed: {' '.join(fixed)}")
    if description["sweep_file"]:
        lines.append(f"sweep file: sweeps/{description['sweep_file']}.yaml")
    return "\n".join(lines)


def _override(line: str) -> tuple[str, str]:
    key, _, value = str(line).partition("=")
    return key.lstrip("+~"), without_password(value)


def _counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {state}" for state, n in counts.items())


def trials_table(trials: list[FrozenTrial]) -> pd.DataFrame:
    """Every trial: number, state, value(s), duration, params, and its MLflow run."""
    rows = []
    for t in trials:
        values = (
            {"value": t.value} if t.values is None or len(t.values) == 1 else {"values": t.values}
        )
        seconds = t.duration.total_seconds() if t.duration is not None else None
        rows.append(
            {
                "number": t.number,
                "state": t.state.name,
                **values,
                "duration_s": seconds,
                **t.params,
                RUN_ID_ATTR: t.user_attrs.get(RUN_ID_ATTR),
            }
        )
    return pd.DataFrame(rows)


def register_best(
    client: MlflowClient, study: optuna.Study, best: FrozenTrial, objective: str | None
) -> str | None:
    """The best trial's logged model as the latest version of ``genre-<study>``, alias ``best``,
    unless that version is already this trial's; ``name vN``, or None where the trial logged
    no model."""
    from mlflow.exceptions import MlflowException

    run_id = best.user_attrs[RUN_ID_ATTR]
    outputs = client.get_run(run_id).outputs
    models = [m.model_id for m in outputs.model_outputs] if outputs else []
    if not models:
        return None
    name = registered_name(study.study_name)
    try:
        latest = client.get_model_version_by_alias(name, BEST_ALIAS)
    except MlflowException:  # no such model yet, or no version with the alias
        latest = None
    if latest is not None and latest.run_id == run_id:
        return f"{name} v{latest.version}"
    try:
        client.create_registered_model(
            name, description=f"The best model of Optuna study {study.study_name!r}."
        )
    except MlflowException as e:
        if e.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    version = client.create_model_version(
        name,
        # Its folder, not models:/ID, which MLflow would look up in the default store.
        source=client.get_logged_model(models[-1]).artifact_location,
        run_id=run_id,
        model_id=models[-1],
        description=f"Trial {best.number} of study {study.study_name!r}: "
        f"{objective or 'value'} {best.value:.4g}",
        tags={"optuna.trial_number": str(best.number), "optuna.value": repr(best.value)},
    )
    client.set_registered_model_alias(name, BEST_ALIAS, version.version)
    return f"{name} v{version.version}"


def registered_name(study_name: str) -> str:
    """``genre-<study>``, in the characters a registered model's name may hold."""
    return "genre-" + re.sub(r"[^\w.\-]", "_", study_name)


def history_figure(study: optuna.Study, objective: str | None) -> Any:
    """Each trial's value by trial number, pruned trials at their last reported value (marked),
    and the best value so far: Optuna's own plot leaves pruned trials out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    pruned = [t for t in trials if t.state == TrialState.PRUNED and t.intermediate_values]
    ax.scatter([t.number for t in complete], [t.value for t in complete], label="complete")
    ax.scatter(
        [t.number for t in pruned],
        [t.intermediate_values[max(t.intermediate_values)] for t in pruned],
        marker="x",
        color="tab:red",
        label="pruned (its last reported value)",
    )
    best = max if study.direction == optuna.study.StudyDirection.MAXIMIZE else min
    so_far, steps = None, []
    for t in sorted(complete, key=lambda t: t.number):
        so_far = t.value if so_far is None else best(so_far, t.value)
        steps.append((t.number, so_far))
    if steps:
        steps.append((trials[-1].number, so_far))  # drawn on to the last trial
        ax.step(*zip(*steps, strict=True), where="post", color="black", label="best so far")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial")
    ax.set_ylabel(objective or "value")
    ax.set_title(f"Study {study.study_name!r}: {len(trials)} trials")
    ax.legend(fontsize=8)
    plt.close(fig)
    return fig


def _tight(figure: Any) -> Any:
    figure.tight_layout()
    return figure


def _fit_labels(figure: Any) -> Any:
    """Optuna's parallel-coordinate plot, wider, its last axis's labels clear of the colour
    bar."""
    figure.set_size_inches(figure.get_figwidth() * 1.3, figure.get_figheight())
    figure.tight_layout()
    for bar in (ax for ax in figure.axes if ax.get_label() == "<colorbar>"):
        box = bar.get_position()
        bar.set_position([box.x0 + 0.035, box.y0, box.width, box.height])
    return figure


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
    from mlflow.tracking.context.registry import resolve_tags

    # The sweep's own process as the run's source (the UI's Source: the entry point, its commit).
    tags = resolve_tags({STUDY_TAG: study.study_name, STORAGE_TAG: storage, ROLE_TAG: "study"})
    run = client.create_run(experiment_id, run_name=f"study {study.study_name}", tags=tags)
    study.set_user_attr(PARENT_ATTR, run.info.run_id)
    return run.info.run_id
