"""The sweeper's pieces without a sweep: the search-space syntax, storage URLs, a job outside a
sweep."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra_plugins.genre_optuna_sweeper._search_space import format_value, parse_search_space
from hydra_plugins.genre_optuna_sweeper._storage import normalize_storage
from hydra_plugins.genre_optuna_sweeper.errors import SweeperError
from hydra_plugins.genre_optuna_sweeper.job import job_trial
from hydra_plugins.genre_optuna_sweeper.urls import without_password
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

# --- search space -------------------------------------------------------------------------


def test_published_example_space_parses_to_optuna_distributions() -> None:
    space = parse_search_space(
        {
            "x": "range(-5.5, 5.5, step=0.5)",
            "y": "choice(-5, 0, 5)",
            "z": "tag(log, interval(0.001, 1))",
            "n": "int(interval(1, 10))",
            "w": "tag(log, int(interval(1, 100)))",
            "u": "interval(0, 1)",
            "r": "range(1, 4)",
            "kind": "mel,stft",
            "f_max": "4000,8000,null",
            "seed": 3,
        },
        [],
    )
    assert space.distributions == {
        "x": FloatDistribution(-5.5, 5.5, step=0.5),
        "y": CategoricalDistribution([-5, 0, 5]),
        "z": FloatDistribution(0.001, 1.0, log=True),
        "n": IntDistribution(1, 10),
        "w": IntDistribution(1, 100, log=True),
        "u": FloatDistribution(0.0, 1.0),
        "r": IntDistribution(1, 4),
        "kind": CategoricalDistribution(["mel", "stft"]),
        "f_max": CategoricalDistribution([4000, 8000, None]),
    }
    assert space.fixed == {"seed": "seed=3"}


def test_command_line_overrides_win_and_fixed_ones_pass_through() -> None:
    space = parse_search_space({"y": "choice(1, 2)", "f": None}, ["y=3,4", "~old", "+new=x y"])
    assert space.distributions == {"y": CategoricalDistribution([3, 4])}
    assert space.overrides({"y": 4}) == ["y=4", "f=null", "~old", "+new=x y"]


def test_grid_lists_every_point_and_refuses_continuous_intervals() -> None:
    space = parse_search_space(
        {
            "x": "range(0, 1, step=0.25)",
            "k": "a,null",
            "n": "range(1, 3)",
            "m": "range(-1.0, 1.0, step=1)",
        },
        [],
    )
    # As in the published plugin (and Hydra's own range), the grid stops before range's end;
    # the other samplers draw from Optuna's distribution, which includes it.
    assert space.grid() == {
        "x": [0.0, 0.25, 0.5, 0.75],
        "k": ["a", None],
        "n": [1, 2],
        "m": [-1.0, 0.0],
    }
    with pytest.raises(SweeperError, match="continuous"):
        parse_search_space({"lr": "tag(log, interval(0.001, 1))"}, []).grid()


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        512,
        0.001,
        "mel",
        "null",
        "512",
        "true",
        "a b",
        "it's",
        "x:y",
        "sqlite:////tmp/optuna.db",
        "postgresql://u:p@127.0.0.1:5432/db?sslmode=disable",
    ],
)
def test_values_round_trip_through_hydra_overrides(value: object) -> None:
    space = parse_search_space({}, [f"key={format_value(value)}"])
    parsed = parse_search_space({}, [f"key={format_value(value)},other"])
    assert space.fixed["key"] == f"key={format_value(value)}"
    assert parsed.distributions["key"].choices[0] == value  # type: ignore[attr-defined]
    assert type(parsed.distributions["key"].choices[0]) is type(value)  # type: ignore[attr-defined]


def test_storage_urls_are_absolute_and_shown_without_password(tmp_path: Path) -> None:
    assert normalize_storage(None, tmp_path) is None  # in memory
    assert normalize_storage("sqlite:///a/b.db", tmp_path) == f"sqlite:///{tmp_path}/a/b.db"
    assert normalize_storage("runs.log", tmp_path) == f"journal:{tmp_path}/runs.log"
    assert normalize_storage("journal:/srv/j", tmp_path) == "journal:/srv/j"
    url = normalize_storage("postgresql+psycopg2://me:secret@db:5432/optuna", tmp_path)
    assert url == "postgresql+psycopg2://me:secret@db:5432/optuna"
    assert "secret" not in without_password(url)
    with pytest.raises(SweeperError, match="in-memory"):
        normalize_storage("sqlite://", tmp_path)


def test_a_single_run_has_no_trial() -> None:
    with job_trial() as trial:
        assert trial is None


@pytest.mark.parametrize(
    "sweep",
    [
        "x=interval(1.0, 0.001)",
        "x=tag(log, interval(0.1, 0.001))",
        "x=interval(5, 2)",
        "x=range(5, 1)",
    ],
)
def test_a_range_from_high_to_low_is_one_sentence(sweep: str) -> None:
    with pytest.raises(SweeperError, match=r"runs from .* down to .*: give the low bound first"):
        parse_search_space({}, [sweep])
