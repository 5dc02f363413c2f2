"""What a user sees of a sweep in MLflow's web UI, in a real headless Chromium: the sweep's link
opens its trials with their scores and searched values as columns, the experiment opens on its
training runs, the study's parent run expands to its trials, a trial's page shows its
parameters, metrics, dataset and figures, and the study's page its plots; and, through MLflow's
API, what the pages do not show at a glance (models, registry, the study run's records).

The browser is Debian's (`apt-get install chromium chromium-driver`), driven by Selenium through
the system chromedriver: nothing is downloaded. Where either is missing the tests skip and say
why; with GENRE_REQUIRE_BROWSER=1 (CI) they fail instead. Each checked page is saved as a
screenshot (and its HTML) in the test's tmp folder; a failed check names both."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from helpers import MLFLOW_START_TIMEOUT, TINY_RUN, free_port, run_module
from PIL import Image

try:
    from selenium import webdriver
    from selenium.common.exceptions import (
        ElementClickInterceptedException,
        StaleElementReferenceException,
        TimeoutException,
        WebDriverException,
    )
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:  # the dev extra is not installed: the tests skip (or fail, in CI)
    webdriver = None

if TYPE_CHECKING:
    from mlflow.entities import Run
    from selenium.webdriver.remote.webelement import WebElement

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# Root, no display, no internet: without the network switches Chromium keeps trying to reach
# Google's services and floods the log with refused connections.
CHROMIUM_FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--window-size=1600,1000",
)  # fmt: skip
WAIT = 120  # seconds for a page to show what it should: MLflow's React app is slow on 2 cores
EXPERIMENT = "ui"
SWEEP = (
    "data=synth", "data.clips_per_genre=6", "data.clip_seconds=2", *TINY_RUN, "model=cnn3",
    "trainer.max_epochs=2", "optim.lr=0.001,0.01", "hydra/sweeper/sampler=grid",
    "hydra.sweeper.n_trials=2", f"mlflow.experiment={EXPERIMENT}",
)  # fmt: skip
TRIAL_FIGURES = ("confusion_matrix.png", "inputs.png", "learning_curves.png")
# MLflow 3 shows one of two UIs, GenAI (its default) and model training; a switch picks one.
MODEL_TRAINING_SWITCH = "//*[@role='button'][normalize-space()='Model training']"
# A tip that covers the page on a first visit (a modal dialog over the GenAI overview).
GOT_IT = "//*[@role='dialog']//button[normalize-space()='Got it']"


# --- The sweep, the UI server and the browser -------------------------------------------------


def _no_browser(reason: str) -> None:
    """Skip, saying why; CI sets GENRE_REQUIRE_BROWSER=1 so that a missing browser fails."""
    if os.environ.get("GENRE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"A browser is required (GENRE_REQUIRE_BROWSER=1) but {reason}")
    pytest.skip(f"no browser for this test: {reason}")


@pytest.fixture(scope="module")
def browser_installed() -> None:
    """Before the sweep: skip early where there is no browser to look at it with."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not path.is_file():
            _no_browser(f"{path} is missing (apt-get install {package})")
    if webdriver is None:
        _no_browser("selenium is not installed (pip install -e '.[dev]')")


@dataclass
class Sweep:
    uri: str
    root: Path
    link: str  # the page the sweep's last line says to open, from "#/experiments/"
    experiment_id: str
    experiment_tags: dict[str, str] = field(repr=False)
    parent: Run = field(repr=False)
    trials: list[Run] = field(repr=False)


@pytest.fixture(scope="module")
def sweep(browser_installed: None, tmp_path_factory: pytest.TempPathFactory) -> Sweep:
    """A tiny grid sweep of two trials, run as a user runs it, into a fresh SQLite store."""
    from mlflow import MlflowClient

    root = tmp_path_factory.mktemp("ui-sweep")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    # System metrics every second (MLflow's default: 10 s), so a trial of seconds has some.
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL", "1")
        done = run_module(
            "genre.train", "-m", *SWEEP, f"mlflow.tracking_uri={uri}", cwd=root, timeout=600
        )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if r.data.tags.get("genre.role") == "study"]
    assert len(parents) == 1, [r.data.tags for r in runs]
    parent = parents[0]
    trials = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(trials) == 2 and all(r.info.status == "FINISHED" for r in trials)
    printed = r"See it: mlflow ui .*, then open http://127\.0\.0\.1:5000/(\S+)$"
    link = re.search(printed, done.stdout, re.M)
    assert link, done.stdout[-3000:]
    return Sweep(uri, root, link[1], experiment.experiment_id, experiment.tags, parent, trials)


@pytest.fixture(scope="module")
def ui(sweep: Sweep) -> Iterator[str]:
    """`mlflow ui` on the sweep's store, as `make ui` starts it; its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = sweep.root / "mlflow-ui.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", sweep.uri,
                "--host", "127.0.0.1", "--port", str(port),
            ],
            cwd=sweep.root, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + MLFLOW_START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"mlflow ui exited ({process.returncode}):\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"mlflow ui did not answer:\n{log.read_text()[-3000:]}")
                time.sleep(0.5)
        yield url
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)  # the server and its workers
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=20)


class Browser:
    """A headless Chromium on the UI, with waits on what a page shows and a screenshot of each
    checked page."""

    def __init__(self, driver: Any, url: str, folder: Path) -> None:
        self.driver = driver
        self.url = url
        self.folder = folder

    def open(self, route: str) -> None:
        self.driver.get(f"{self.url}/#/{route}")

    def until(self, condition: Callable[[Any], Any], what: str, timeout: float = WAIT) -> Any:
        """Wait for ``condition(driver)`` to return something true, and return it."""
        # React redraws what it shows: an element found a moment ago may be gone; look again.
        wait = WebDriverWait(
            self.driver, timeout, 0.5, ignored_exceptions=(StaleElementReferenceException,)
        )
        return wait.until(condition, f"waited {timeout} s for {what}")

    def visible(self, css: str = "", xpath: str = "", text: str = "") -> WebElement:
        """The first displayed element that matches (and shows ``text``), once there is one."""
        by, selector = (By.CSS_SELECTOR, css) if css else (By.XPATH, xpath)

        def first(driver: Any) -> WebElement | None:
            for element in driver.find_elements(by, selector):
                if element.is_displayed() and text in element.text:
                    return element
            return None

        return self.until(first, f"a displayed {selector}" + (f" showing {text!r}" if text else ""))

    def click(self, css: str = "", xpath: str = "", text: str = "") -> None:
        """Click what matches once it shows, as a user would: closing first a tip that
        covers the page."""

        def clicked(driver: Any) -> bool:
            try:
                self.visible(css, xpath, text).click()
            except ElementClickInterceptedException:
                for tip in driver.find_elements(By.XPATH, GOT_IT):
                    if tip.is_displayed():
                        tip.click()
                return False
            return True

        self.until(clicked, f"a click on {css or xpath}")

    def shown(self, css: str) -> bool:
        """Whether an element that matches is displayed now."""
        try:
            return any(e.is_displayed() for e in self.driver.find_elements(By.CSS_SELECTOR, css))
        except StaleElementReferenceException:  # it went while we looked
            return self.shown(css)

    def at(self, route: str) -> None:
        """Wait until the app has gone to ``route`` (a part of its URL)."""
        self.until(lambda d: route in d.current_url, f"the address to show {route}")

    def text(self, *texts: str) -> None:
        """Wait until the page shows each text (its visible text, as a user reads it)."""
        for text in texts:
            self.until(lambda d, t=text: t in d.find_element(By.TAG_NAME, "body").text, repr(text))

    def image(self, alt: str) -> tuple[int, int]:
        """The size of the preview image ``alt``, once it has loaded."""
        size = self.until(
            lambda d: d.execute_script(
                "const i = document.querySelector(arguments[0]);"
                "return i && i.complete && i.naturalWidth ? [i.naturalWidth, i.naturalHeight]"
                " : null;",
                f'img[alt="{alt}"]',
            ),
            f"the image {alt} to load",
        )
        return tuple(size)

    def save(self, name: str) -> Path:
        png = self.folder / f"{name}.png"
        self.driver.save_screenshot(str(png))
        png.with_suffix(".html").write_text(self.driver.page_source)
        return png

    @contextmanager
    def check(self, name: str, what: str) -> Iterator[None]:
        """A check of one page: its screenshot is saved as ``name``.png either way; a failure
        says what was checked, and where the screenshot and the page's HTML are."""
        try:
            yield
        except (AssertionError, WebDriverException) as exc:
            png = self.save(name)
            reason = exc.msg if isinstance(exc, WebDriverException) else exc  # not its stack
            message = (
                f"{what}: {reason}\n  at {self.driver.current_url}\n  screenshot: {png}\n"
                f"  its HTML: {png.with_suffix('.html')}"
            )
            print(message)
            pytest.fail(message)
        self.save(name)


@pytest.fixture
def browser(browser_installed: None, ui: str, tmp_path: Path) -> Iterator[Browser]:
    """A fresh headless Chromium (its own profile: MLflow's UI keeps choices in local storage)."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    # The driver's path, given, keeps Selenium Manager from looking for (and downloading) one.
    service = Service(
        executable_path=str(CHROMEDRIVER), log_output=str(tmp_path / "chromedriver.log")
    )
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(WAIT)
    try:
        yield Browser(driver, ui, tmp_path)
    finally:
        driver.quit()


# --- What a user checks --------------------------------------------------------------------


def run_row(run_id: str, column: str = "Run Name") -> str:
    """The runs table's cell of a run (AG Grid splits a row between its pinned and scrolled
    parts: each cell is found by its column)."""
    return f'[role=row][row-id="{run_id}"] [col-id="attributes.`{column}`"]'


def artifact(name: str) -> str:
    """A file or folder in a run's artifact tree."""
    return f'[data-testid="artifact-tree-node"][artifact-name="{name}"]'


def landing(browser: Browser, sweep: Sweep) -> str:
    """Where the experiment's page has opened: "runs" (its runs table) or "overview" (MLflow's
    GenAI overview)."""

    def landed(driver: Any) -> str | None:
        if browser.shown(run_row(sweep.parent.info.run_id)):
            return "runs"
        if "/overview" in driver.current_url:
            return "overview"
        return None

    return browser.until(landed, "the runs table or the GenAI overview")


def test_experiment_opens_on_its_training_runs(sweep: Sweep, browser: Browser) -> None:
    """The links genre prints (a sweep's view of its trials, a run's page) open in the
    model-training view, and the experiment's page then shows the runs table, not MLflow 3's
    GenAI overview: a browser that never chose a view shows every experiment on that overview
    (MLflow 3.17 decides the view per browser, whatever the experiment's kind), so genre's links
    name the view."""
    assert sweep.experiment_tags.get("mlflow.experimentKind") == "custom_model_development"
    view = re.fullmatch(
        rf"#/experiments/{sweep.experiment_id}/runs\?viewStateShareKey=(\w+)"
        "&workflowType=machine_learning",
        sweep.link,
    )
    assert view, sweep.link
    browser.open(sweep.link.removeprefix("#/"))
    with browser.check("linked-view", "the printed link opens the study's trials"):
        browser.visible(css=run_row(sweep.trials[0].info.run_id))
    # A run's link (as a single run prints it), then the breadcrumb back to the experiment.
    browser.open(
        f"experiments/{sweep.experiment_id}/runs/{sweep.parent.info.run_id}"
        "?workflowType=machine_learning"
    )
    with browser.check("linked-run", "a run's link opens the run"):
        browser.text(sweep.parent.info.run_name)
    browser.click(css=f'a[href*="/experiments/{sweep.experiment_id}"]', text=EXPERIMENT)
    with browser.check("experiment-opened", "the experiment opens on its training runs"):
        page = landing(browser, sweep)
        if page == "overview":
            # Rendered for the failure's screenshot: drawn once the page names the experiment.
            with suppress(TimeoutException):
                browser.text(EXPERIMENT)
        assert page == "runs", (
            f"MLflow's UI opened the experiment on {browser.driver.current_url}, not on its "
            f"runs table (the experiment's tags: {sweep.experiment_tags})"
        )


def column(kind: str, key: str) -> str:
    """A metric's or a param's column id in the runs table."""
    return f"{kind}.`{key}`"


def cell(run_id: str, column_id: str) -> str:
    return f'[role=row][row-id="{run_id}"] [col-id="{column_id}"]'


def test_printed_link_compares_the_trials(sweep: Sweep, browser: Browser) -> None:
    """The sweep's link opens its trials alone (no study row to expand), best first, each named
    by its trial number and searched value, the best marked, with the objective, the objective on
    the test split and the searched param as columns, their values whole."""
    objective = "best_val/macro_f1"
    ranked = sorted(sweep.trials, key=lambda r: -r.data.metrics[objective])
    browser.open(sweep.link.removeprefix("#/"))
    with browser.check("view", "the printed link shows the trials with their scores as columns"):
        for rank, r in enumerate(ranked):
            number = r.data.tags["optuna.trial_number"]
            lr = float(r.data.params["optim.lr"])
            name = f"trial {number} · lr={lr:.3g}" + (" · best" if rank == 0 else "")
            assert r.info.run_name == name
            browser.visible(css=f"{run_row(r.info.run_id)} a", text=name)
            shown = browser.visible(css=cell(r.info.run_id, column("metrics", objective)))
            assert float(shown.text) == r.data.metrics[objective], shown.text
            assert "…" not in shown.text
            shown = browser.visible(css=cell(r.info.run_id, column("metrics", "test/macro_f1")))
            assert float(shown.text) == r.data.metrics["test/macro_f1"], shown.text
            shown = browser.visible(css=cell(r.info.run_id, column("params", "optim.lr")))
            assert shown.text == r.data.params["optim.lr"]
        rows = browser.driver.find_elements(
            By.CSS_SELECTOR, f'[role=row][row-id] [col-id="{column("metrics", objective)}"]'
        )
        assert [float(c.text) for c in rows if c.text] == [
            r.data.metrics[objective] for r in ranked
        ]
        assert not browser.shown(run_row(sweep.parent.info.run_id))


def test_sweep_in_the_ui(sweep: Sweep, browser: Browser) -> None:
    """The parent run groups the trials; a trial shows its parameters, metrics, dataset and
    figures; the study's run shows its trials and plots."""
    from mlflow import MlflowClient

    client = MlflowClient(sweep.uri)
    parent = sweep.parent
    parent_id = parent.info.run_id
    trial = max(sweep.trials, key=lambda r: float(r.data.params["optim.lr"]))
    trial_id = trial.info.run_id
    # Each split is an input; the page shows the training one and "+2".
    (dataset,) = (
        d.dataset
        for d in trial.inputs.dataset_inputs
        if {t.key: t.value for t in d.tags}["mlflow.data.context"] == "training"
    )

    # Opened from the list of experiments, MLflow 3.17 shows a new browser's experiment in its
    # GenAI view: a user turns to the model-training view with the switch atop the sidebar, which
    # the browser then remembers.
    browser.open(f"experiments/{sweep.experiment_id}")
    if landing(browser, sweep) != "runs":
        browser.click(xpath=MODEL_TRAINING_SWITCH)
    with browser.check("runs", "the runs table shows the study's run, its trials folded in"):
        browser.visible(css=run_row(parent_id), text=parent.info.run_name)
        for r in sweep.trials:
            assert not browser.shown(run_row(r.info.run_id)), "a trial shows before expanding"

    with browser.check("runs-expanded", "the study's run expands to its trials, with data"):
        # The run's expand control: the only button in its name cell.
        browser.click(css=f"{run_row(parent_id)} button")
        for r in sweep.trials:
            name = browser.visible(css=f"{run_row(r.info.run_id)} a")
            assert name.text == r.info.run_name
            browser.visible(
                css=run_row(r.info.run_id, "Dataset"), text=f"{dataset.name} ({dataset.digest})"
            )

    browser.click(css=f'{run_row(trial_id)} a[href$="/runs/{trial_id}"]')
    with browser.check("trial", "a trial's page shows its description, parameters, metrics"):
        browser.at(f"/runs/{trial_id}")
        browser.text(trial.info.run_name, trial.data.tags["mlflow.note.content"])
        browser.text(f"Parameters ({len(trial.data.params)})")
        browser.text(f"Metrics ({len(trial.data.metrics)})")
        for key, value in (("optim.lr", trial.data.params["optim.lr"]), ("model.name", "cnn3")):
            row = browser.visible(xpath=f"//*[@role='row'][*[@role='cell'][.='{key}']]")
            assert row.text.split("\n")[1] == value, row.text
        objective = "val/macro_f1"
        row = browser.visible(xpath=f"//*[@role='row'][*[@role='cell'][.='{objective}']]")
        shown = float(row.text.split("\n")[1])
        assert shown == pytest.approx(trial.data.metrics[objective]), row.text

    with browser.check("trial-dataset", "a trial's dataset opens on its rows and columns"):
        browser.click(
            xpath="//h4[.='Datasets']/following-sibling::*/descendant-or-self::*[@role='button']",
            text=f"{dataset.name} ({dataset.digest})",
        )
        rows = json.loads(dataset.profile)["num_rows"]
        drawer = browser.visible(css="[role=dialog]", text=f"num rows: {rows}")
        for column in ("clip_id", "genre", "split"):
            assert column in drawer.text.split("\n"), drawer.text
        drawer.send_keys(Keys.ESCAPE)
        browser.until(lambda d: not browser.shown("[role=dialog]"), "the dataset drawer to close")

    browser.click(xpath="//button[@role='tab'][.='Artifacts']")
    with browser.check("trial-artifacts", "a trial's artifacts show its confusion matrix"):
        for figure in TRIAL_FIGURES:
            browser.visible(css=artifact(figure))
        browser.click(css=artifact("confusion_matrix.png"))
        logged = Image.open(client.download_artifacts(trial_id, "confusion_matrix.png"))
        assert browser.image("confusion_matrix.png") == logged.size

    browser.click(xpath="//button[@role='tab'][.='Overview']")
    browser.click(css='[data-testid="key-value-Parent run"] a')
    with browser.check("study", "the study's page lists its trials and says it is a study"):
        browser.at(f"/runs/{parent_id}")
        browser.text(parent.info.run_name)
        for r in sweep.trials:  # once the list has loaded
            browser.visible(css='[data-testid="key-value-Child runs"]', text=r.info.run_name)
        role = browser.visible(css='[role=status][title="genre.role"]')
        assert role.text.replace("\n", "") == "genre.role: study", role.text

    plots = [Path(a.path).name for a in client.list_artifacts(parent_id, "plots")]
    assert "trial_curves.png" in plots, plots
    browser.click(xpath="//button[@role='tab'][.='Artifacts']")
    with browser.check("study-plots", "the study's artifacts show its plots"):
        folder = browser.visible(css=artifact("plots"))
        if not browser.shown(artifact("trial_curves.png")):
            folder.click()  # a closed folder: open it
        for plot in plots:
            browser.visible(css=artifact(plot))
        browser.click(css=artifact("trial_curves.png"))
        logged = Image.open(client.download_artifacts(parent_id, "plots/trial_curves.png"))
        assert browser.image("plots/trial_curves.png") == logged.size


def test_study_and_models_in_mlflow(sweep: Sweep) -> None:
    """What the browser does not show at a glance, through MLflow's API: the study run holds the
    study (its real settings, the best trial's params and value, a table of every trial, its
    source), the study's best model is registered, each logged model carries its checkpoint's
    epoch, metrics and datasets, each split is an input in its context, system metrics were
    logged, and per_class.csv's accuracy row counts clips."""
    import pandas as pd
    from mlflow import MlflowClient

    client = MlflowClient(sweep.uri)
    parent, objective = sweep.parent, "val/macro_f1"
    best = max(sweep.trials, key=lambda r: r.data.metrics[f"best_{objective}"])
    assert parent.data.metrics[f"best_{objective}"] == best.data.metrics[f"best_{objective}"]
    assert parent.data.params["optim.lr"] == best.data.params["optim.lr"]
    assert parent.data.params["trainer.max_epochs"] == "2"
    description = parent.data.tags["mlflow.note.content"]
    assert description.startswith("Optuna study 'train': up to 2 trials, maximize val/macro_f1")
    assert f"best: trial {best.data.tags['optuna.trial_number']}" in description
    assert parent.data.tags["mlflow.source.name"]
    table = pd.read_csv(client.download_artifacts(parent.info.run_id, "trials.csv"))
    assert list(table.columns) == [
        "number", "state", "value", "duration_s", "optim.lr", "mlflow_run_id"
    ]  # fmt: skip
    assert set(table["mlflow_run_id"]) == {r.info.run_id for r in sweep.trials}
    assert set(table["state"]) == {"COMPLETE"}

    name = "genre-train"
    version = client.get_model_version_by_alias(name, "best")
    assert version.run_id == best.info.run_id
    assert version.description.startswith(f"Trial {best.data.tags['optuna.trial_number']} ")

    for run in sweep.trials:
        contexts = {
            d.dataset.name.rsplit("/", 1)[1]: {t.key: t.value for t in d.tags}
            for d in run.inputs.dataset_inputs
        }
        assert {split: tags["mlflow.data.context"] for split, tags in contexts.items()} == {
            "train": "training", "val": "validation", "test": "testing"
        }  # fmt: skip
        (output,) = run.outputs.model_outputs
        history = client.get_metric_history(run.info.run_id, objective)
        best_epoch = max(history, key=lambda m: (m.value, -m.step)).step
        assert output.step == best_epoch
        model = client.get_logged_model(output.model_id)
        carried = {m.key: m for m in model.metrics}
        assert carried[objective].value == run.data.metrics[f"best_{objective}"]
        assert carried[objective].step == best_epoch
        assert carried["test/acc"].value == run.data.metrics["test/acc"]
        assert carried["test/acc"].dataset_name.endswith("/test")
        assert carried[f"best_{objective}"].dataset_name.endswith("/val")
        # float32 scores as they print, not 0.3333333432674408
        scores = [v for k, v in run.data.metrics.items() if k.count("/") == 1 and "system" not in k]
        assert all(len(repr(value)) <= 12 for value in scores), run.data.metrics
        assert any(key.startswith("system/") for key in run.data.metrics), run.data.metrics
        report = pd.read_csv(client.download_artifacts(run.info.run_id, "per_class.csv"))
        accuracy = report.set_index("genre").loc["accuracy"]
        assert accuracy["support"] == int(contexts["test"]["clips"])
