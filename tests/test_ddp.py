"""The units train under DistributedDataParallel (one CPU process, gloo backend)."""

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from nalm.torch import NALU


def test_nalu_stack_trains_under_ddp(tmp_path):
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        torch.manual_seed(0)
        model = NALU.stack(4, 3, 1, shared_weights=False)
        reference = NALU.stack(4, 3, 1, shared_weights=False)
        reference.load_state_dict(model.state_dict())
        ddp = DistributedDataParallel(model)
        x, y = torch.rand(16, 4) + 0.5, torch.rand(16, 1)
        for net in (ddp, reference):
            (net(x) - y).pow(2).mean().backward()
        # Every parameter is used in forward, so DDP reduces a gradient for each (no unused-parameter error),
        # and with one process the reduced gradients equal the plain ones.
        for p, q in zip(model.parameters(), reference.parameters()):
            torch.testing.assert_close(p.grad, q.grad)
    finally:
        dist.destroy_process_group()
