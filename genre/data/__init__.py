"""The data side of the data flow: source adapters turn a dataset root into a manifest
(``sources``), every clip is decoded once (``audio``) into a memory-mapped cache (``cache``), splits
are fixed (``splits``), and the DataModule serves crops from the cache (``datamodule``)."""

import pandas as pd

# The tables hold file paths, and a name that is not UTF-8 (old archives) is a str with surrogates
# (PEP 383), which pandas' default Arrow-backed strings refuse. Python-backed strings hold any str;
# for tables of a few hundred thousand rows at most, the speed they give up does not matter.
pd.set_option("mode.string_storage", "python")
