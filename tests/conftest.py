import torch

# The models under test are tiny: one thread avoids the cost of thread synchronization, which
# dominates (and becomes erratic) when other processes share the two cores.
torch.set_num_threads(1)
