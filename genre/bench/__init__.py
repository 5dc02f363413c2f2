"""``python -m genre.bench``: how fast genre's data path, spectrogram layer, training loop,
pruned sweeps and cache build are, each as a ratio against the way the seed report's scripts (or
a bare PyTorch loop) did the same work, measured in the same run.

Rows (``--rows`` picks some): ``loader``, ``spectrogram``, ``overhead``, ``pruning``, ``cache``,
``gpu``. Absolute seconds depend on the machine and its load; the ratios are what travel. The
exit status is 0 even when a target is missed: this is a measurement, not a test.
"""
