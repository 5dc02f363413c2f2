"""Embed once, probe many times: a frozen pretrained network's embeddings of every window of
every clip, computed a single time into a cache beside the waveform cache (``cache``), served as
training and evaluation items (``data``) to the head alone (``probe``); ``plan`` decides whether
a run can train on them or needs the audio. It sits above ``genre.data`` and ``genre.model``,
which stay unaware of each other."""
