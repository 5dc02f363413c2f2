"""The model side of the data flow, free of Hydra, Optuna and MLflow: the spectrogram layer
(``spectrogram``), training augmentation (``augment``), the CNNs (``cnn``), the pretrained
musicnn port (``musicnn``) and its use as a front end (``pretrained``), the network that joins
them (``net``) and the LightningModule that trains it (``module``)."""
