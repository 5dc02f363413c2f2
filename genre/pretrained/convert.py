"""The original musicnn checkpoints' variables as the PyTorch port's state dict: which TensorFlow
layer fills which module, and how kernels are laid out on each side."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from genre.errors import GenreError

# Which TensorFlow layer of the original fills which module of the port, in the order the
# original's graph creates them (and so numbers them).
MUSICNN_LAYERS = {
    "input_bn": "batch_normalization",
    "timbral.0.conv": "conv2d",
    "timbral.0.bn": "batch_normalization_1",
    "timbral.1.conv": "conv2d_1",
    "timbral.1.bn": "batch_normalization_2",
    "temporal.0.conv": "conv2d_2",
    "temporal.0.bn": "batch_normalization_3",
    "temporal.1.conv": "conv2d_3",
    "temporal.1.bn": "batch_normalization_4",
    "temporal.2.conv": "conv2d_4",
    "temporal.2.bn": "batch_normalization_5",
    "midend.0.conv": "conv2d_5",
    "midend.0.bn": "batch_normalization_6",
    "midend.1.conv": "conv2d_6",
    "midend.1.bn": "batch_normalization_7",
    "midend.2.conv": "conv2d_7",
    "midend.2.bn": "batch_normalization_8",
    "pool_bn": "batch_normalization_9",
    "dense": "dense",
    "dense_bn": "batch_normalization_10",
    "output": "dense_1",
}
VGG_LAYERS = {
    "input_bn": "batch_normalization",
    **{f"convs.{i}": f"{i + 1}CNN" for i in range(5)},
    **{f"bns.{i}": f"batch_normalization_{i + 1}" for i in range(5)},
    "output": "dense",
}
# TensorFlow variables that are training state, not part of the model.
OPTIMIZER_STATE = ("beta1_power", "beta2_power", "global_step")


def convert_checkpoint(arch: str, tensors: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The port's state dict from the original's checkpoint variables: convolution kernels from
    TensorFlow's [time, frequency, in, out] to [out, in, frequency, time] (1-d mid-end layers:
    [out, in, time]), dense kernels transposed, batch norm statistics renamed. Every model
    variable of the checkpoint must be used, so a checkpoint of another layout fails here."""
    layers = MUSICNN_LAYERS if arch == "musicnn" else VGG_LAYERS
    state: dict[str, np.ndarray] = {}
    used = set()

    def take(name: str) -> np.ndarray:
        used.add(name)
        return tensors[name]

    try:
        for module, layer in layers.items():
            if layer.startswith("batch_normalization"):
                state[f"{module}.weight"] = take(f"{layer}/gamma")
                state[f"{module}.bias"] = take(f"{layer}/beta")
                state[f"{module}.running_mean"] = take(f"{layer}/moving_mean")
                state[f"{module}.running_var"] = take(f"{layer}/moving_variance")
                state[f"{module}.num_batches_tracked"] = np.zeros((), np.int64)
                continue
            kernel = take(f"{layer}/kernel")
            if kernel.ndim == 2:
                weight = kernel.T
            elif module.startswith("midend"):
                weight = kernel[:, :, 0, :].transpose(2, 1, 0)
            else:
                weight = kernel.transpose(3, 2, 1, 0)
            state[f"{module}.weight"] = np.ascontiguousarray(weight)
            state[f"{module}.bias"] = take(f"{layer}/bias")
    except KeyError as exc:
        raise GenreError(f"The {arch} checkpoint has no variable {exc}.") from exc
    unused = [
        name
        for name in tensors
        if name not in used
        and name not in OPTIMIZER_STATE
        and not name.endswith(("/Adam", "/Adam_1"))
    ]
    if unused:
        raise GenreError(f"The {arch} checkpoint has variables the port does not use: {unused}.")
    return state
