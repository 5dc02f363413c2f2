"""The data side of the data flow: source adapters turn a dataset root into a manifest
(``sources``), every clip is decoded once (``audio``) into a memory-mapped cache (``cache``), splits
are fixed (``splits``), and the DataModule serves crops from the cache (``datamodule``)."""
