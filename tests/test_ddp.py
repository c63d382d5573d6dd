"""The units train under DistributedDataParallel (one CPU process, gloo backend).

The run happens in a child process with a time limit, so a stuck process group can fail the test
but never hang the suite.
"""

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import sys

    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    from nalm.torch import NALU

    dist.init_process_group("gloo", init_method="file://" + sys.argv[1], rank=0, world_size=1)
    torch.manual_seed(0)
    model = NALU.stack(4, 3, 1, shared_weights=False)
    reference = NALU.stack(4, 3, 1, shared_weights=False)
    reference.load_state_dict(model.state_dict())
    ddp = DistributedDataParallel(model)
    x, y = torch.rand(16, 4) + 0.5, torch.rand(16, 1)
    for net in (ddp, reference):
        (net(x) - y).pow(2).mean().backward()
    # Every parameter is used in forward, so DDP reduces a gradient for each (no unused-parameter
    # error), and with one process the reduced gradients equal the plain ones.
    for p, q in zip(model.parameters(), reference.parameters()):
        torch.testing.assert_close(p.grad, q.grad)
    del ddp  # the reducer must go before its process group
    dist.destroy_process_group()
    print("ddp ok")
    """
)


def test_nalu_stack_trains_under_ddp(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "store")], capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stderr
    assert "ddp ok" in result.stdout
