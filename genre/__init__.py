"""genre: music-genre classification experiments (Hydra, Lightning, Optuna, MLflow)."""

GENRES: tuple[str, ...] = (
    "Alt Rock",
    "Ambient",
    "Classical",
    "Electro Rock",
    "Electronica",
    "Hard Rock",
    "Hip-Hop",
    "Jazz",
    "New Age",
    "World",
)
"""The seed report's ten MagnaTagATune genres; the synthetic dataset uses them too."""
