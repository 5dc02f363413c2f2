"""Puts the project root on the search path of `genre.train`, so that `sweeps=NAME` finds
`sweeps/NAME.yaml` beside `conf/`."""

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin

from genre.util import CONF_DIR, PROJECT_ROOT


class GenreSearchPathPlugin(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        ours = str(CONF_DIR)
        # Other Hydra applications in the same environment are left alone.
        paths = (element.path.removeprefix("file://") for element in search_path.get_path())
        if ours in paths:
            search_path.append("genre", f"file://{PROJECT_ROOT}")
