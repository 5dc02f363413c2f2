"""The MLflow model of a genre run, logged as code (MLflow's "models from code"): loading it runs
this file and reads the network's weights and config (``genre.saved_model``), never a pickle.

    model = mlflow.pyfunc.load_model("runs:/RUN_ID/model")
    probabilities = model.predict(waves)   # float32 [crops, samples] -> [crops, genres or tags]

A genre model gives a softmax over its genres, a tagging model a sigmoid per tag.
``model.unwrap_python_model().net`` is the ``GenreNet`` itself, with its ``genres`` (the tags of
a tagging model), ``multilabel``, ``sample_rate`` and ``chunk_samples``.
"""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import torch
from mlflow.pyfunc import PythonModel

from genre.saved_model import load_network

ARTIFACT = "network"  # the saved_model folder, as the model's artifact


class GenreModel(PythonModel):
    def load_context(self, context) -> None:
        self.net = load_network(Path(context.artifacts[ARTIFACT]))

    def predict(self, context, model_input: np.ndarray, params=None) -> np.ndarray:
        waves = torch.as_tensor(np.asarray(model_input, dtype=np.float32))
        with torch.no_grad():
            return self.net.probabilities(self.net(waves)).numpy()


mlflow.models.set_model(GenreModel())
