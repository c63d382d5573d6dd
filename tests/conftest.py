import os

import torch

# Keras reads its backend on first import, and ~/.keras/keras.json may name TensorFlow, which nalm
# does not need: the Keras tests run on torch unless KERAS_BACKEND says otherwise (e.g. jax).
os.environ.setdefault("KERAS_BACKEND", "torch")

# The models under test are tiny: one thread avoids the cost of thread synchronization, which
# dominates (and becomes erratic) when other processes share the two cores.
torch.set_num_threads(1)
