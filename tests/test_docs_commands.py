"""Every `python -m genre.train|prepare|explore ...` command in README.md and docs/ composes: its
overrides name real groups, options and keys, and a sweep's comma lists come with `-m`.

Composing needs no data. A code block whose commands cannot compose here (a config group the
reader adds first, say) is marked by an HTML comment on the line before its opening fence, which
the rendered page does not show: `<!-- docs-test: skip REASON -->`.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import ROOT
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, RangeSweep

from genre.config import compose_config
from genre.util import CONF_DIR

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
COMPOSED = ("train", "prepare", "explore")
# Hydra's flags that take a value, which is no override.
VALUED_FLAGS = {"--cfg", "-c", "--package", "-p", "--config-name", "-cn", "--config-path", "-cp"}
SKIP = re.compile(r"<!--\s*docs-test:\s*skip\b(.*?)-->")


@dataclass(frozen=True)
class Command:
    page: str
    line: int
    tool: str
    args: tuple[str, ...]
    skip: str | None

    def __str__(self) -> str:
        return f"{self.page}:{self.line}: python -m genre.{self.tool} {' '.join(self.args)}"


def commands_of(page: Path) -> list[Command]:
    """The genre commands in a page's code blocks, continuation lines joined, comments cut."""
    found: list[Command] = []
    lines = page.read_text().splitlines()
    in_block, skip, pending = False, None, ""
    for number, line in enumerate(lines, start=1):
        if line.lstrip().startswith("```"):
            in_block = not in_block
            if in_block:
                before = lines[number - 2] if number > 1 else ""
                marked = SKIP.search(before)
                skip = marked.group(1).strip() or "marked" if marked else None
            continue
        if not in_block:
            for span in re.findall(r"`(python -m genre\.[^`]+)`", line):  # in the prose
                found += _command(page, number, span, None)
            continue
        text = pending + re.sub(r"(^|\s)#.*$", "", line).rstrip()
        if text.endswith("\\"):
            pending = text[:-1] + " "
            continue
        pending = ""
        found += _command(page, number, text, skip)
    return found


def _command(page: Path, number: int, text: str, skip: str | None) -> list[Command]:
    """The composed tool's command in ``text``, up to any shell redirection or pipe."""
    match = re.search(r"python -m genre\.(\w+)(.*)$", text)
    if not match or match.group(1) not in COMPOSED:
        return []
    args = []
    for arg in shlex.split(match.group(2)):
        if re.match(r"\d?>|\||;|&", arg):
            break
        args.append(arg)
    return [Command(page.name, number, match.group(1), tuple(args), skip)]


COMMANDS = [command for page in PAGES for command in commands_of(page)]


def overrides_to_compose(command: Command) -> list[str]:
    """The command's overrides as one job would get them: a sweep's first value, and the sweeper's
    own search syntax (interval, tag) left to the sweeper. A sweep without -m is refused, as
    Hydra refuses it."""
    multirun = "-m" in command.args or "--multirun" in command.args
    overrides = []
    args = iter(command.args)
    for arg in args:
        if arg in VALUED_FLAGS:
            next(args)  # the flag's value
        elif re.fullmatch(r"\$(\w+|\{\w+\})", arg):
            continue  # a shell variable alone holds overrides the page sets, e.g. $DATA
        elif not arg.startswith("-"):
            overrides.append(re.sub(r"\$(\w+|\{\w+\})", "0", arg))  # a value the shell gives
    parsed = OverridesParser.create().parse_overrides(overrides)
    composed = []
    for override in parsed:
        if not override.is_sweep_override():
            composed.append(override.input_line)
            continue
        assert multirun, f"{command}: {override.input_line} is a sweep, which needs -m"
        if isinstance(override.value(), IntervalSweep):
            continue
        assert isinstance(override.value(), ChoiceSweep | RangeSweep), override.input_line
        first = next(iter(override.sweep_string_iterator()))
        composed.append(f"{override.get_key_element()}={first}")
    return composed


def test_the_docs_hold_commands_of_each_tool() -> None:
    assert {command.tool for command in COMMANDS} == set(COMPOSED)


@pytest.mark.parametrize("command", COMMANDS, ids=str)
def test_each_documented_command_composes(command: Command) -> None:
    if command.skip:
        pytest.skip(command.skip)
    overrides = overrides_to_compose(command)
    if command.tool == "explore":
        with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
            compose("explore", overrides=overrides)
    else:
        compose_config(overrides)
