"""The published hydra-optuna-sweeper's search-space syntax, parsed with Hydra's override parser.

| syntax                         | Optuna distribution                                  |
| ------------------------------ | ---------------------------------------------------- |
| `choice(a, b)`, `a,b`          | CategoricalDistribution                              |
| `range(a, b, step=s)`          | IntDistribution / FloatDistribution(a, b, step=s):   |
|                                | `b` can be drawn; the grid sampler stops before `b`  |
| `shuffle(range(...))`          | CategoricalDistribution of the range's values        |
| `interval(a, b)`               | FloatDistribution(a, b)                              |
| `int(interval(a, b))`          | IntDistribution(a, b)                                |
| `tag(log, interval(a, b))`     | FloatDistribution(a, b, log=True) (int(...): Int)    |
| anything else                  | a fixed value, passed to every job unchanged         |
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import (
    IntervalSweep,
    Override,
    Quote,
    QuotedString,
    RangeSweep,
    Transformer,
)
from hydra.errors import HydraException
from optuna.distributions import (
    BaseDistribution,
    CategoricalChoiceType,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from ._errors import SweeperError

_PARSER = OverridesParser.create()


@dataclass(frozen=True)
class SearchSpace:
    """Swept parameters as Optuna distributions; fixed overrides (`key` -> the override as
    written, e.g. `seed=3`, `~z`) are passed to every job unchanged, and each trial keeps their
    values (`key` -> the value as written, e.g. `3`) as user attrs."""

    distributions: dict[str, BaseDistribution]
    fixed: dict[str, str]
    fixed_values: dict[str, str]

    def grid(self) -> dict[str, list[CategoricalChoiceType]]:
        """Every value of every parameter, for GridSampler, as the published plugin makes them:
        `range(a, b, step=s)` stops before `b`, as Hydra's own range does."""
        return {name: _grid_values(name, d) for name, d in self.distributions.items()}

    def overrides(self, params: Mapping[str, Any]) -> list[str]:
        """A job's overrides: a trial's parameters, quoted where needed, and the fixed ones."""
        swept = [f"{key}={format_value(value)}" for key, value in params.items()]
        return swept + list(self.fixed.values())


def parse_search_space(
    params: Mapping[str, Any], arguments: Sequence[str], parser: OverridesParser | None = None
) -> SearchSpace:
    """Parse `hydra.sweeper.params` then the command line's overrides, which win on a key.

    Pass a parser made with Hydra's config loader for `glob(...)` over config groups.
    """
    lines = [f"{key}={_as_override_text(value)}" for key, value in params.items()]
    distributions: dict[str, BaseDistribution] = {}
    fixed: dict[str, str] = {}
    fixed_values: dict[str, str] = {}
    for override in (parser or _PARSER).parse_overrides([*lines, *arguments]):
        key = override.get_key_element()
        distributions.pop(key, None)
        fixed.pop(key, None)
        fixed_values.pop(key, None)
        if override.is_sweep_override():
            distributions[key] = to_distribution(override)
        else:
            assert override.input_line is not None
            fixed[key] = override.input_line
            fixed_values[key] = override.get_value_element_as_str()
    return SearchSpace(distributions, fixed, fixed_values)


def params_of_search_space(search_space: Mapping[str, Any]) -> dict[str, str]:
    """hydra-optuna-sweeper 1.1's `search_space` entries (`type`, `low`, `high`, `step`, `log`,
    `choices`) written in `params` syntax, with the distribution that plugin made of each."""
    params = {}
    for name, entry in search_space.items():
        kind = str(entry.get("type"))
        if kind == "categorical":
            params[name] = f"choice({', '.join(format_value(c) for c in entry['choices'])})"
            continue
        if kind not in ("int", "float"):
            raise SweeperError(
                f"hydra.sweeper.search_space.{name} has type {kind!r}; write it as "
                "hydra.sweeper.params, e.g. `interval(0, 1)` or `choice(a, b)`."
            )
        number = int if kind == "int" else float
        low, high = number(entry["low"]), number(entry["high"])
        step = entry.get("step")
        if entry.get("log"):
            params[name] = f"tag(log, {_interval(kind, low, high)})"
        elif step is not None and (kind == "float" or int(step) != 1):
            params[name] = f"range({low!r}, {high!r}, step={number(step)!r})"
        else:
            params[name] = _interval(kind, low, high)
    return params


def _interval(kind: str, low: float, high: float) -> str:
    interval = f"interval({low!r}, {high!r})"
    return f"int({interval})" if kind == "int" else interval


def format_value(value: Any) -> str:
    """A scalar as override text that Hydra parses back to the same value and type."""
    text = Transformer.str(value)
    if isinstance(value, str) and not _reads_back(text, value):
        # Strings like "null", "512", "a b", "it's" or URLs need quotes to stay strings.
        return QuotedString(text=value, quote=Quote.single).with_quotes()
    return text


def to_distribution(override: Override) -> BaseDistribution:
    """The Optuna distribution of one sweep override."""
    sweep = override.value()
    if override.is_choice_sweep() or (isinstance(sweep, RangeSweep) and sweep.shuffle):
        return CategoricalDistribution([_choice(override, x) for x in override.sweep_iterator()])
    if isinstance(sweep, RangeSweep):
        assert sweep.start is not None and sweep.stop is not None
        _check_order(override, sweep.start, sweep.stop)
        bounds = (sweep.start, sweep.stop, sweep.step)
        if any(isinstance(x, float) for x in bounds):
            return FloatDistribution(sweep.start, sweep.stop, step=sweep.step)
        return IntDistribution(int(sweep.start), int(sweep.stop), step=int(sweep.step))
    if isinstance(sweep, IntervalSweep):
        assert sweep.start is not None and sweep.end is not None
        _check_order(override, sweep.start, sweep.end)
        log = "log" in sweep.tags
        if isinstance(sweep.start, int) and isinstance(sweep.end, int):
            return IntDistribution(sweep.start, sweep.end, log=log)
        return FloatDistribution(sweep.start, sweep.end, log=log)
    raise SweeperError(f"The sweeper cannot search {override.input_line!r}.")


def _check_order(override: Override, low: float, high: float) -> None:
    """A range whose low bound is above its high bound is a typo, not an empty search."""
    if low > high:
        raise SweeperError(
            f"{override.input_line!r} runs from {low} down to {high}: give the low bound first, "
            f"as in {override.get_key_element()}=interval({high}, {low})."
        )


def _as_override_text(value: Any) -> str:
    # YAML gives `null`, numbers and lists as values; Hydra's syntax is in the strings.
    return value if isinstance(value, str) else Transformer.str(value)


def _choice(override: Override, value: Any) -> CategoricalChoiceType:
    if isinstance(value, QuotedString):
        return value.text
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise SweeperError(
        f"{override.input_line!r}: a choice must be a scalar (Optuna stores no lists or dicts)."
    )


def _reads_back(text: str, value: str) -> bool:
    """Whether Hydra reads unquoted `text` as exactly the string `value`."""
    try:
        parsed = _PARSER.parse_override(f"k={text}").value()
    except HydraException:
        return False
    return text == value and isinstance(parsed, str) and parsed == value


def _grid_values(name: str, distribution: BaseDistribution) -> list[CategoricalChoiceType]:
    if isinstance(distribution, CategoricalDistribution):
        return list(distribution.choices)
    step = getattr(distribution, "step", None)
    if step is None or getattr(distribution, "log", False):
        raise SweeperError(
            f"The grid sampler needs discrete values, but {name!r} is a continuous interval; "
            "use choice(...), a comma list or range(a, b, step=s)."
        )
    assert isinstance(distribution, (IntDistribution, FloatDistribution))
    count = int((distribution.high - distribution.low) // step)
    return _points(distribution.low, step, count)


def _points(low: Any, step: Any, count: int) -> list[Any]:
    # Rounded so that 0.1 steps give 0.3, not 0.30000000000000004, in trial params and dirs.
    values = [low + i * step for i in range(count)]
    return values if isinstance(step, int) else [round(v, 12) for v in values]
