"""The dataset exploration of the report's section 2, as one MLflow run (tagged genre.kind=explore)
with its figures also saved as PNG in the output folder.

python -m genre.explore data=gtzan data.root=/data/gtzan [mlflow.experiment=gtzan]

Figures: clips per genre and split; 2-D and 3-D projections of the per-clip mean log-mel by PCA,
LDA and (with the `explore` extra, umap-learn) UMAP; a regular and a mel spectrogram of one clip.
With task=tagging: clips per tag and split and how often tags go together, instead of the first.

A Hydra app rather than argparse: it composes the same `data`, `task` and `features` groups as
`genre.train`, so the same overrides pick the same dataset (and its cache, by fingerprint), and
Hydra's output folder, `--cfg job` and `-m` (one exploration per dataset) come with it.
"""

from __future__ import annotations

from pathlib import Path

import hydra
import matplotlib
import mlflow
import numpy as np
import pandas as pd
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.preprocessing import StandardScaler
from tqdm.auto import tqdm

from genre.build import build_spectrogram
from genre.config import is_tagging, validate
from genre.console import setup_console
from genre.data.datamodule import GenreDataModule
from genre.data.sources import TAGS, split_tags
from genre.errors import GenreError, user_errors
from genre.model.spectrogram import Spectrogram
from genre.tracking import flat_params, open_tracking
from genre.util import CONF_DIR

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

BATCH = 32  # clips per spectrogram call: one call per clip costs far more than the maths


def explore(cfg: DictConfig, output_dir: Path) -> None:
    validate(cfg)
    data = GenreDataModule(cfg.data, is_tagging(cfg))
    cache = data.load()
    clips = data.clips
    row = example_row(clips, cfg.example_clip)
    # The inputs checked, the store next, failing fast: nothing is drawn or written for a store
    # that is down.
    open_tracking(cfg)
    notes: list[str] = []

    counts = data.counts_per_split()
    if data.tagging:
        figures = {
            "tag_frequencies": class_distribution(counts, len(clips)),
            "tag_cooccurrence": cooccurrence_figure(clips, counts.sum(axis=1)),
        }
    else:
        figures = {"class_distribution": class_distribution(counts, len(clips))}
    sample = clips
    if len(clips) > cfg.max_clips:
        sample = clips.sample(n=int(cfg.max_clips), random_state=int(cfg.seed)).sort_index()
        notes.append(f"projections use a random sample of {len(sample)} of {len(clips)} clips")
    rate = int(cfg.data.sample_rate)
    # Eval mode: no SpecAugment in what is shown.
    spectrogram = build_spectrogram(cfg.features, rate, kind="mel", scale="db").eval()
    features = mean_log_mel(spectrogram, cache.audio, sample, rate)
    labels, by = projection_labels(sample, counts.sum(axis=1) if data.tagging else None)
    scaled = StandardScaler().fit_transform(features)
    subtitle = f"per-clip mean log-mel, {len(sample)} clips, coloured by {by}"

    projections, variance_2d = projection_figures(scaled, labels, int(cfg.seed), subtitle, notes)
    figures.update(projections)
    figures["spectrograms"] = spectrogram_figure(
        cfg.features, int(cfg.data.sample_rate), cache.audio, clips, row
    )

    output_dir.mkdir(parents=True, exist_ok=True)
    for name, figure in figures.items():
        figure.savefig(output_dir / f"{name}.png", dpi=120)
        plt.close(figure)
    counts.to_csv(output_dir / "clips_per_split.csv")

    tags = {"genre.kind": "explore", "data.fingerprint": cache.fingerprint}
    with mlflow.start_run(run_name=cfg.mlflow.run_name, tags=tags):
        mlflow.log_params(flat_params(OmegaConf.masked_copy(cfg, ["data", "features"])))
        mlflow.log_metrics(
            {
                "n_clips": len(clips),
                "n_rejected": len(cache.rejected),
                "n_genres": int(clips["genre"].nunique()),
                **({"n_tags": len(counts)} if data.tagging else {}),
                "pca_variance_2d": variance_2d,
            }
        )
        mlflow.log_artifacts(str(output_dir), "explore")
        if notes:
            mlflow.set_tag("genre.notes", "; ".join(notes))
    for note in notes:
        print(f"note: {note}")
    print(f"figures in {output_dir}")


def projection_figures(
    scaled: np.ndarray, labels: np.ndarray, seed: int, subtitle: str, notes: list[str]
) -> tuple[dict[str, plt.Figure], float]:
    """PCA, LDA and (where installed) UMAP figures of the standardised features, and the share
    of variance PCA's first two axes keep; what is left out is said in ``notes``."""
    figures: dict[str, plt.Figure] = {}
    pca = PCA(n_components=min(3, *scaled.shape)).fit(scaled)
    axes = [
        f"PC {i + 1} ({share:.0%} of variance)"
        for i, share in enumerate(pca.explained_variance_ratio_)
    ]
    figures["projection_pca"] = projection(pca.transform(scaled), labels, "PCA", axes, subtitle)
    # Fitted on every clip shown, test clips included: this pictures how separable the genres
    # are, it measures nothing.
    n_genres = len(set(labels))
    n_lda = min(3, n_genres - 1, scaled.shape[1])
    if n_lda < 2:
        notes.append(f"LDA skipped: {n_genres} genres give it {n_lda} axis, too few to draw")
    else:
        lda = LinearDiscriminantAnalysis(n_components=n_lda).fit(scaled, labels)
        axes = [f"LD {i + 1}" for i in range(n_lda)]
        figures["projection_lda"] = projection(lda.transform(scaled), labels, "LDA", axes, subtitle)
        if n_lda < 3:
            notes.append(f"LDA has {n_lda} axes with {n_genres} genres: no 3-D view")
    try:
        import umap
    except ImportError:
        notes.append("UMAP skipped: install the explore extra (pip install umap-learn)")
    else:
        # Two embeddings: unlike PCA's and LDA's axes, a 3-D UMAP's first two axes are no 2-D
        # UMAP. Seeded, hence single-threaded (n_jobs=1 says so and keeps UMAP quiet).
        embeddings = [
            umap.UMAP(n_components=n, random_state=seed, n_jobs=1).fit_transform(scaled)
            for n in (2, 3)
        ]
        axes = [f"UMAP {i + 1}" for i in range(3)]
        figures["projection_umap"] = projection(
            embeddings[0], labels, "UMAP", axes, subtitle, cube_points=embeddings[1]
        )
    return figures, float(pca.explained_variance_ratio_[:2].sum())


@torch.inference_mode()
def mean_log_mel(
    spectrogram: Spectrogram, audio: np.ndarray, clips: pd.DataFrame, sample_rate: int
) -> np.ndarray:
    """``[clips, n_mels]``: each clip's spectrogram averaged over time, in batches. Only the
    frames of a padded clip's decoded part count, so a short clip is not pulled towards silence."""
    hop = spectrogram.transform.hop_length
    valid_frames = (clips["seconds"].to_numpy(dtype=float) * sample_rate).astype(int) // hop + 1
    means = []
    with tqdm(total=len(clips), desc="mean log-mel", unit="clip", mininterval=0.5) as bar:
        for start in range(0, len(clips), BATCH):
            rows = clips.index[start : start + BATCH].to_numpy()
            waves = torch.from_numpy(audio[rows].astype(np.float32))
            spec = spectrogram(waves)[:, 0]  # [batch, n_mels, frames]
            frames = torch.arange(spec.shape[-1])
            keep = frames[None, :] < torch.from_numpy(valid_frames[start : start + BATCH])[:, None]
            means.append(((spec * keep[:, None]).sum(-1) / keep.sum(-1)[:, None]).numpy())
            bar.update(len(rows))
    return np.concatenate(means)


def genre_colours(genres: list[str]) -> dict[str, tuple]:
    """One distinct colour per genre, the same in every figure."""
    if len(genres) <= 10:
        colours = plt.get_cmap("tab10").colors
    elif len(genres) <= 20:
        colours = plt.get_cmap("tab20").colors
    else:
        colours = plt.get_cmap("turbo")(np.linspace(0, 1, len(genres)))
    return {g: tuple(colours[i]) for i, g in enumerate(genres)}


def class_distribution(counts: pd.DataFrame, n_clips: int) -> plt.Figure:
    """Stacked bars: clips per genre (``counts``' index ``genre``) or per tag (index ``tag``,
    most frequent first), split into train/val/test."""
    label = counts.index.name
    if label == "tag":
        counts = counts.loc[counts.sum(axis=1).sort_values(ascending=False, kind="stable").index]
    fig, ax = plt.subplots(figsize=(max(5.0, 0.6 * len(counts) + 2), 4), layout="constrained")
    bottom = np.zeros(len(counts))
    for split, colour in zip(counts, ("#4c72b0", "#dd8452", "#55a868"), strict=False):
        ax.bar(counts.index, counts[split], bottom=bottom, label=split, color=colour)
        bottom += counts[split].to_numpy()
    for x, total in enumerate(bottom):
        ax.annotate(f"{int(total)}", (x, total), ha="center", va="bottom", fontsize=8)
    ax.set_ylim(0, bottom.max() * 1.12)
    ax.set_xlabel(label)
    ax.set_ylabel("clips")
    ax.tick_params(axis="x", rotation=45 if len(counts) > 6 else 0)
    ax.legend(title="split", loc="upper left", bbox_to_anchor=(1.01, 1))
    each = ", a clip under each of its tags" if label == "tag" else ""
    ax.set_title(f"Clips per {label} and split ({n_clips} clips{each})")
    return fig


def cooccurrence_figure(clips: pd.DataFrame, frequency: pd.Series) -> plt.Figure:
    """How often tags go together: cell (row a, column b) is the share of a's clips that also
    have b, so a row reads "given a"; the diagonal holds each tag's clip count. Tags most
    frequent first (``frequency``: clips per tag)."""
    tags = list(frequency.sort_values(ascending=False, kind="stable").index)
    index = {tag: i for i, tag in enumerate(tags)}
    hot = np.zeros((len(clips), len(tags)))
    for row, text in enumerate(clips[TAGS].fillna("")):
        hot[row, [index[tag] for tag in split_tags(text)]] = 1
    together = hot.T @ hot
    share = together / np.maximum(np.diag(together)[:, None], 1)
    size = 2.5 + 0.28 * len(tags)
    fig, ax = plt.subplots(figsize=(size + 1.5, size), layout="constrained")
    image = ax.imshow(share, cmap="viridis", vmin=0, vmax=1)
    ax.set_xticks(range(len(tags)), tags, rotation=90, fontsize=7)
    ax.set_yticks(range(len(tags)), tags, fontsize=7)
    for i, count in enumerate(np.diag(together)):
        ax.text(i, i, f"{int(count)}", ha="center", va="center", color="black", fontsize=6)
    fig.colorbar(image, ax=ax, label="share of the row tag's clips that also have the column tag")
    ax.set_title(f"Tag co-occurrence ({len(clips)} clips; diagonal: clips per tag)")
    return fig


def projection_labels(
    clips: pd.DataFrame, tag_frequency: pd.Series | None
) -> tuple[np.ndarray, str]:
    """What colours each clip in the projections, and its name: the genre; for tagging, where
    the source gives no genre to every clip, its most frequent tag ("no tag" for none)."""
    if tag_frequency is None or clips["genre"].notna().all():
        return clips["genre"].to_numpy(), "genre"
    rank = {tag: r for r, tag in enumerate(tag_frequency.sort_values(ascending=False).index)}
    dominant = [
        min(split_tags(text), key=rank.__getitem__, default="no tag")
        for text in clips[TAGS].fillna("")
    ]
    return np.array(dominant), "most frequent tag"


def projection(
    points: np.ndarray,
    labels: np.ndarray,
    method: str,
    axes: list[str],
    subtitle: str,
    cube_points: np.ndarray | None = None,
) -> plt.Figure:
    """The first two axes of ``points`` in 2-D and, where there are three (or ``cube_points``
    are given), three in 3-D; one legend outside both panels, so it hides no point."""
    genres = sorted(set(labels))
    colours = genre_colours(genres)
    if cube_points is None and points.shape[1] >= 3:
        cube_points = points
    fig = plt.figure(figsize=(7 if cube_points is None else 12, 5.2), layout="constrained")
    flat = fig.add_subplot(1, 1 if cube_points is None else 2, 1)
    cube = None if cube_points is None else fig.add_subplot(1, 2, 2, projection="3d")
    for genre in genres:
        mine = labels == genre
        style = dict(color=colours[genre], s=14, alpha=0.8, label=genre, edgecolors="none")
        flat.scatter(points[mine, 0], points[mine, 1], **style)
        if cube is not None:
            cube.scatter(*cube_points[mine, :3].T, **style)
    flat.set_xlabel(axes[0])
    flat.set_ylabel(axes[1])
    flat.set_title("2-D")
    if cube is not None:
        cube.set_xlabel(axes[0], fontsize=8)
        cube.set_ylabel(axes[1], fontsize=8)
        cube.set_zlabel(axes[2], fontsize=8)
        cube.tick_params(labelsize=7)
        cube.set_title("3-D")
    handles, names = flat.get_legend_handles_labels()
    fig.legend(handles, names, loc="outside right center", markerscale=1.5)
    fig.suptitle(f"{method} of the {subtitle}")
    return fig


def example_row(clips: pd.DataFrame, clip_id: str | None) -> int:
    if clip_id is None:
        return int(clips.index[clips["split"] == "train"][0])
    match = clips.index[clips["clip_id"] == str(clip_id)]
    if len(match) == 0:
        raise GenreError(f"No clip with clip_id '{clip_id}' in this dataset; see its clips.csv.")
    return int(match[0])


@torch.inference_mode()
def spectrogram_figure(
    features: DictConfig, sample_rate: int, audio: np.ndarray, clips: pd.DataFrame, row: int
) -> plt.Figure:
    """The report's figure 4: one clip as a regular (STFT) and as a mel spectrogram, both in dB
    with the training features' n_fft and hop; the mel panel keeps its f_max (8 kHz)."""
    seconds = float(clips.loc[row, "seconds"])
    wave = torch.from_numpy(audio[row, : int(seconds * sample_rate)].astype(np.float32))[None]
    hop = int(features.hop_length or features.n_fft // 4)
    stft = build_spectrogram(
        features, sample_rate, kind="stft", f_min=0.0, f_max=None, normalize="none", scale="db"
    ).eval()
    mel = build_spectrogram(features, sample_rate, kind="mel", normalize="none", scale="db").eval()
    regular = stft(wave)[0, 0].numpy()
    melspec = mel(wave)[0, 0].numpy()
    duration = regular.shape[1] * hop / sample_rate

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 7), layout="constrained", sharex=True)
    image = top.imshow(
        regular,
        origin="lower",
        aspect="auto",
        cmap="magma",
        extent=(0, duration, 0, sample_rate / 2),
    )
    top.set_ylabel("frequency (Hz)")
    top.set_title(f"Regular spectrogram (STFT, n_fft={features.n_fft}, hop={hop})")
    fig.colorbar(image, ax=top, label="dB")

    f_min = float(features.f_min)
    f_max = float(features.f_max or sample_rate / 2)
    image = bottom.imshow(
        melspec,
        origin="lower",
        aspect="auto",
        cmap="magma",
        extent=(0, duration, 0, len(melspec)),
    )
    # Mel bands are evenly spaced in mel, not in Hz: ticks sit where these frequencies fall.
    ticks = [f for f in (0, 250, 500, 1000, 2000, 4000, 8000, 16000) if f_min <= f <= f_max]
    bottom.set_yticks([mel_position(f, f_min, f_max, len(melspec)) for f in ticks], ticks)
    bottom.set_ylabel("frequency (Hz, mel scale)")
    bottom.set_xlabel("time (s)")
    bottom.set_title(f"Mel spectrogram ({len(melspec)} bands, f_max={f_max:g} Hz)")
    fig.colorbar(image, ax=bottom, label="dB")
    clip = clips.loc[row]
    labels = clip["genre"] if pd.notna(clip["genre"]) else clip.get(TAGS) or "no tag"
    fig.suptitle(f"Clip {clip['clip_id']} ({labels}, {seconds:.1f} s)")
    return fig


def mel_position(freq: float, f_min: float, f_max: float, n_mels: int) -> float:
    """Where ``freq`` falls on the mel panel's y axis, band i drawn over [i, i + 1]. On
    torchaudio's default HTK scale, n_mels + 2 points evenly spaced in mel from f_min to f_max
    are the bands' edges, and band i is centred on point i + 1."""

    def mel(f: float) -> float:
        return 2595.0 * np.log10(1.0 + f / 700.0)

    step = (mel(f_max) - mel(f_min)) / (n_mels + 1)
    return float(np.clip((mel(freq) - mel(f_min)) / step - 0.5, 0, n_mels))


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="explore")
def main(cfg: DictConfig) -> None:
    setup_console()
    with user_errors():
        explore(cfg, Path(HydraConfig.get().runtime.output_dir))


if __name__ == "__main__":
    main()
