"""Pretrained networks ported to PyTorch: musicnn's MSD and MagnaTagATune taggers (``musicnn``
and ``vgg`` architectures), their weights read from the ``musicnn`` wheel's TensorFlow
checkpoints without TensorFlow and converted once into genre's cache."""
