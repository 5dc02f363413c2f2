"""Names of the pretrained models the ``musicnn`` 0.1.0 wheel holds and of what they output: the
one home of these facts, for the weights' reader (``genre.pretrained.weights``), the PyTorch port
(``genre.model.musicnn``), the config's checks and the MagnaTagATune adapter (whose top 50 tags
are the MTT models' outputs)."""

from __future__ import annotations

from genre.errors import check_choice

ARCHS = ("musicnn", "vgg")
VARIANTS = ("msd", "mtt")

# musicnn/configuration.py, in the order of the models' outputs.
MTT_TAGS = (
    "guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock", "fast",
    "piano", "ambient", "beat", "violin", "vocal", "synth", "female", "indian", "opera", "male",
    "singing", "vocals", "no vocals", "harpsichord", "loud", "quiet", "flute", "woman",
    "male vocal", "no vocal", "pop", "soft", "sitar", "solo", "man", "classic", "choir", "voice",
    "new age", "dance", "male voice", "female vocal", "beats", "harp", "cello", "no voice",
    "weird", "country", "metal", "female voice", "choral",
)  # fmt: skip
MSD_TAGS = (
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s",
    "alternative rock", "jazz", "beautiful", "metal", "chillout", "male vocalists",
    "classic rock", "soul", "indie rock", "Mellow", "electronica", "80s", "folk", "90s", "chill",
    "instrumental", "punk", "oldies", "blues", "hard rock", "ambient", "acoustic", "experimental",
    "female vocalist", "guitar", "Hip-Hop", "70s", "party", "country", "easy listening", "sexy",
    "catchy", "funk", "electro", "heavy metal", "Progressive rock", "60s", "rnb", "indie pop",
    "sad", "House", "happy",
)  # fmt: skip
TAGS = {"msd": MSD_TAGS, "mtt": MTT_TAGS}
# The embeddings a new head may read (``model.embedding``), each model's outputs besides logits.
LAYERS = ("taggram", "penultimate", "max_pool", "mean_pool")


def model_name(arch: str, variant: str) -> str:
    """The original's name of a model (``MSD_musicnn``, ``MTT_vgg``, ...)."""
    check_choice("pretrained arch", arch, ARCHS)
    check_choice("pretrained variant", variant, VARIANTS)
    return f"{variant.upper()}_{arch}"
