"""tblog: write TensorBoard event files from any training loop, with no TensorFlow."""

__version__ = "0.1.0"
