"""genre_optuna as the replacement of hydra-optuna-sweeper: plain Hydra apps in tests/compat_app
that know nothing of genre (the published plugin's examples, written again, with the sweeper's
name changed; and an app that opts in to pruning) swept as their users run them; and each
deliberate difference from the published plugin, shown (docs/sweeps.md lists them)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import hydra_plugins.genre_optuna_sweeper.config  # noqa: F401  (its configs, for compose)
import optuna
import pytest
import yaml
from hydra import compose, initialize_config_dir
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.trial import TrialState
from sweeper_testing import APPS, load_trials, one_sentence, sweep_env

SQLITE = "hydra.sweeper.storage=sqlite:///optuna.db"  # in the directory the sweep runs in


def sweep(
    app: str, cwd: Path, *overrides: str, returncode: int = 0, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python tests/compat_app/APP.py -m OVERRIDES` in `cwd`, which must end with `returncode`."""
    proc = subprocess.run(
        [
            sys.executable,
            str(APPS / f"{app}.py"),
            "-m",
            f"hydra.sweep.dir={cwd / 'out'}",
            *overrides,
        ],
        cwd=cwd,
        env=env or sweep_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == returncode, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def results(cwd: Path) -> dict[str, Any]:
    return yaml.safe_load((cwd / "out" / "optimization_results.yaml").read_text())


def sphere(params: dict[str, Any]) -> float:
    return params["x"] ** 2 + params["y"] ** 2


def dominates(a: list[float], b: list[float]) -> bool:
    return all(x <= y for x, y in zip(a, b, strict=True)) and a != b


# --- the published examples ----------------------------------------------------------------


@pytest.mark.slow
def test_the_sphere_example_runs_as_published(tmp_path: Path) -> None:
    proc = sweep("sphere", tmp_path)
    assert "Study 'sphere' in memory (new; TPESampler, minimize)" in proc.stdout
    assert "Study 'sphere': 20 trials (20 complete, 0 pruned, 0 failed)." in proc.stdout
    found = results(tmp_path)
    assert found["name"] == "genre_optuna"
    assert found["best_value"] == sphere(found["best_params"])
    assert found["best_params"]["x"] in [-5.5 + 0.5 * i for i in range(23)]
    assert found["best_params"]["y"] in (-5, 0, 5)


@pytest.mark.slow
def test_the_multi_objective_example_finds_a_pareto_front(tmp_path: Path) -> None:
    proc = sweep("multi-objective", tmp_path)
    assert "(new; NSGAIISampler, minimize and minimize)" in proc.stdout
    solutions = results(tmp_path)["solutions"]
    assert solutions
    for solution in solutions:
        x, y = solution["params"]["x"], solution["params"]["y"]
        assert solution["values"] == [4 * x**2 + 4 * y**2, (x - 5) ** 2 + (y - 5) ** 2]
        assert not any(dominates(other["values"], solution["values"]) for other in solutions)


@pytest.mark.slow
def test_the_custom_search_space_example_adds_its_parameters(tmp_path: Path) -> None:
    # As published: `.custom-search-space-objective.configure`, a module beside the app.
    sweep("custom-search-space-objective", tmp_path, "max_z_difference_from_x=0.3")
    found = results(tmp_path)
    best = found["best_params"]
    assert set(best) == {"x", "y", "z", "+w"}
    assert abs(best["x"] - best["z"]) <= 0.3
    assert 0.0 <= best["+w"] <= 1.0
    assert found["best_value"] == pytest.approx(
        best["+w"] ** 2 + best["x"] ** 2 + best["y"] ** 2 + best["z"] ** 2
    )


# --- samplers -------------------------------------------------------------------------------


@pytest.mark.slow
def test_tpe_gives_the_trials_of_an_optuna_loop_with_the_published_settings(
    tmp_path: Path,
) -> None:
    """The same seed gives the same trials as the published plugin's ask/tell loop would on
    current Optuna: the sweeper adds nothing to sampling, and genre's `constant_liar: true`
    changes nothing while trials run one at a time."""
    sweep("sphere", tmp_path, SQLITE, "hydra.sweeper.n_trials=15")
    reference = optuna.create_study(
        sampler=optuna.samplers.TPESampler(seed=123, multivariate=False, constant_liar=False)
    )
    space = {
        "x": FloatDistribution(-5.5, 5.5, step=0.5),
        "y": CategoricalDistribution([-5, 0, 5]),
    }
    expected = []
    for _ in range(15):
        trial = reference.ask()
        params = {name: trial._suggest(name, d) for name, d in space.items()}
        reference.tell(trial, sphere(params))
        expected.append(params)
    assert [t.params for t in load_trials(tmp_path, "sphere")] == expected


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sampler", "name"),
    [
        ("random", "RandomSampler"),
        ("cmaes", "CmaEsSampler"),
        ("qmc", "QMCSampler"),
        ("nsgaii", "NSGAIISampler"),
    ],
)
def test_every_sampler_minimises_the_sphere(tmp_path: Path, sampler: str, name: str) -> None:
    proc = sweep(
        "sphere",
        tmp_path,
        SQLITE,
        f"hydra/sweeper/sampler={sampler}",
        "hydra.sweeper.n_trials=8",
    )
    assert f"(new; {name}, minimize)" in proc.stdout
    trials = load_trials(tmp_path, "sphere")
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 8
    for trial in trials:
        assert trial.value == sphere(trial.params)
    found = results(tmp_path)
    assert found["best_value"] == min(t.value for t in trials)


def test_a_sampler_of_the_users_own_is_made_from_its_target(tmp_path: Path) -> None:
    proc = sweep("sphere", tmp_path, "hydra/sweeper/sampler=own", "hydra.sweeper.n_trials=3")
    assert "(new; OwnSampler, minimize)" in proc.stdout


@pytest.mark.slow
def test_the_grid_stops_before_the_end_of_range_and_other_samplers_may_draw_it(
    tmp_path: Path,
) -> None:
    """The published meaning per sampler: range(-1.0, 1.0, step=1) is two grid points, -1 and 0;
    for the other samplers it is Optuna's distribution from -1 to 1, ends included."""
    grid = tmp_path / "grid"
    grid.mkdir()
    space = ("x=range(-1.0, 1.0, step=1)", "y=range(-1, 1)")
    proc = sweep("sphere", grid, SQLITE, "hydra/sweeper/sampler=grid", *space)
    assert "n_trials lowered to 4" in proc.stdout
    visited = {(t.params["x"], t.params["y"]) for t in load_trials(grid, "sphere")}
    assert visited == {(-1.0, -1), (-1.0, 0), (0.0, -1), (0.0, 0)}
    assert results(grid)["best_value"] == 0.0

    drawn = tmp_path / "random"
    drawn.mkdir()
    sweep("sphere", drawn, SQLITE, "hydra/sweeper/sampler=random", *space)
    assert {t.params["y"] for t in load_trials(drawn, "sphere")} == {-1, 0, 1}


# --- failures -------------------------------------------------------------------------------


def test_max_failure_rate_zero_stops_at_the_first_failing_batch(tmp_path: Path) -> None:
    proc = sweep(
        "sphere", tmp_path, "error=true", "hydra.sweeper.n_trials=4", "hydra.sweeper.n_jobs=2",
        returncode=2,
    )  # fmt: skip
    assert one_sentence(proc.stderr).startswith(
        "genre: Trial 0 failed (RuntimeError: cfg.error is True): 2 of the batch's 2 trials "
        "failed, more than hydra.sweeper.max_failure_rate=0 allows;"
    )
    found = results(tmp_path)
    assert (found["best_params"], found["best_value"]) == (None, None)
    assert found["note"] == "No trial completed (2 trials: 0 complete, 0 pruned, 2 failed)."


def test_max_failure_rate_one_goes_on_past_every_failure(tmp_path: Path) -> None:
    sweep(
        "sphere", tmp_path, "error=true", "hydra.sweeper.n_trials=4", "hydra.sweeper.n_jobs=2",
        "hydra.sweeper.max_failure_rate=1.0",
    )  # fmt: skip
    assert results(tmp_path)["note"] == (
        "No trial completed (4 trials: 0 complete, 0 pruned, 4 failed)."
    )


def test_a_nan_result_is_a_failure_that_counts(tmp_path: Path) -> None:
    """Deliberate difference: the published plugin records NaN as failed but does not count it
    against max_failure_rate."""
    proc = sweep("sphere", tmp_path, "x=nan", "hydra.sweeper.n_trials=2", returncode=2)
    assert "(it returned nan, not a finite number)" in one_sentence(proc.stderr)


# --- what a job sees ------------------------------------------------------------------------


@pytest.mark.slow
def test_the_sweeper_leaves_the_jobs_overrides_and_folders_alone(tmp_path: Path) -> None:
    sweep(
        "sphere", tmp_path, SQLITE, "hydra.sweeper.n_trials=3",
        "hydra.sweep.subdir=${hydra.job.override_dirname}",
    )  # fmt: skip
    trials = load_trials(tmp_path, "sphere")
    folders = {path.name for path in (tmp_path / "out").iterdir() if path.is_dir()}
    assert folders == {f"x={t.params['x']},y={t.params['y']}" for t in trials}
    for trial in trials:
        hydra_dir = tmp_path / "out" / f"x={trial.params['x']},y={trial.params['y']}" / ".hydra"
        overrides = yaml.safe_load((hydra_dir / "overrides.yaml").read_text())
        assert overrides == [f"x={trial.params['x']}", f"y={trial.params['y']}"]
        # The trial's context is in the job's environment instead.
        env = yaml.safe_load((hydra_dir / "hydra.yaml").read_text())["hydra"]["job"]["env_set"]
        assert env["GENRE_OPTUNA_TRIAL_NUMBER"] == str(trial.number)
        assert env["GENRE_OPTUNA_STUDY"] == "sphere"
        assert env["GENRE_OPTUNA_STORAGE"] == f"sqlite:///{tmp_path}/optuna.db"


@pytest.mark.slow
def test_pruning_is_the_apps_opt_in(tmp_path: Path) -> None:
    """An app that asks for its trial (job_trial) reports and is pruned, here with the study in
    the sweeper's memory and the jobs in its process; outside a sweep it just runs."""
    proc = sweep("pruned", tmp_path)
    [summary] = [line for line in proc.stdout.splitlines() if line.startswith("Study 'pruned':")]
    assert "10 trials" in summary and "0 pruned" not in summary and "0 failed" in summary

    single = subprocess.run(
        [sys.executable, str(APPS / "pruned.py"), f"hydra.run.dir={tmp_path / 'single'}"],
        env=sweep_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert single.returncode == 0, single.stderr[-3000:]


# --- deliberate differences -----------------------------------------------------------------


def test_defaults_differ_from_the_published_plugin_only_where_documented() -> None:
    with initialize_config_dir(str(APPS / "pruned-conf"), version_base="1.3"):
        cfg = compose("config", ["hydra/sweeper/sampler=tpe"], return_hydra_config=True)
    sweeper = cfg.hydra.sweeper
    assert sweeper.n_jobs == 1  # published: 2
    assert sweeper.sampler.constant_liar is True  # published: false (Optuna 2's default)
    # As published:
    assert (sweeper.direction.name, sweeper.storage, sweeper.max_failure_rate) == (
        "minimize",
        None,
        0.0,
    )
    assert (sweeper.sampler.multivariate, sweeper.sampler.n_startup_trials) == (False, 10)


@pytest.mark.slow
def test_n_trials_counts_the_whole_study_named_after_the_job(tmp_path: Path) -> None:
    """Deliberate differences: the published plugin adds n_trials on every run, and a study
    without a name gets a new random one."""
    unnamed = (SQLITE, "hydra.sweeper.study_name=null", "hydra.sweeper.n_trials=3")
    sweep("sphere", tmp_path, *unnamed)
    proc = sweep("sphere", tmp_path, *unnamed)
    assert "Study 'sphere' in sqlite" in proc.stdout and "(resumed;" in proc.stdout
    assert len(load_trials(tmp_path, "sphere")) == 3
    sweep("sphere", tmp_path, SQLITE, "hydra.sweeper.study_name=null", "hydra.sweeper.n_trials=5")
    assert len(load_trials(tmp_path, "sphere")) == 5


def test_a_search_space_block_gets_its_rewrite_in_one_sentence(tmp_path: Path) -> None:
    proc = sweep("sphere", tmp_path, "--config-name=search_space_1_1", returncode=2)
    assert one_sentence(proc.stderr) == (
        "genre: hydra.sweeper.search_space is hydra-optuna-sweeper 1.1's syntax, which this "
        "sweeper does not read; write it as hydra.sweeper.params: {x: 'range(-5.5, 5.5, "
        "step=0.5)', y: 'choice(-5, 0, 5)', z: 'tag(log, int(interval(1, 100)))'}"
    )


def test_motpe_is_refused_in_one_sentence(tmp_path: Path) -> None:
    """The published plugin's `motpe` sampler is gone from Optuna 4.0: the sweeper says so and
    what to use, rather than failing to import it."""
    proc = sweep("multi-objective", tmp_path, "hydra/sweeper/sampler=motpe", returncode=2)
    assert one_sentence(proc.stderr) == (
        "genre: hydra/sweeper/sampler=motpe: Optuna 4.0 removed MOTPESampler; TPESampler "
        "optimises several objectives itself: use hydra/sweeper/sampler=tpe (or nsgaii)."
    )


@pytest.mark.slow
def test_sweep_returns_none_as_published(hydra_sweep_runner: Any) -> None:
    """The published plugin's own test, through Hydra's interface with only the sweeper's name
    changed: the sweep runs its jobs and returns nothing."""
    sweep = hydra_sweep_runner(
        calling_file=None,
        calling_module="hydra.test_utils.a_module",
        task_function=None,
        config_path="configs",
        config_name="compose.yaml",
        overrides=[
            "hydra/sweeper=genre_optuna",
            "hydra/launcher=basic",
            "hydra.sweeper.n_trials=8",
            "hydra.sweeper.n_jobs=3",
        ],
    )
    with sweep:
        assert sweep.returns is None
