"""Puts the project root on the search path of `genre.train`, so that `sweeps=NAME` finds
`sweeps/NAME.yaml` beside `conf/`."""

from pathlib import Path

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class GenreSearchPathPlugin(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        ours = str(PROJECT_ROOT / "conf")
        # Other Hydra applications in the same environment are left alone.
        paths = (element.path.removeprefix("file://") for element in search_path.get_path())
        if ours in paths:
            search_path.append("genre", f"file://{PROJECT_ROOT}")
