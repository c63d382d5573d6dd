"""``nalm`` and ``python -m nalm``: the command line (:mod:`nalm.cli`), honouring Ctrl-C from the first moment."""

import sys


def main() -> int:
    """Run the command line; a Ctrl-C while its modules load (PyTorch takes seconds) ends it with one line."""
    try:
        from nalm.cli import main as command_line  # imported here, not above, so a Ctrl-C while it loads is caught
    except KeyboardInterrupt:
        print("nalm: interrupted while starting; nothing was written", file=sys.stderr)
        return 130
    return command_line()


if __name__ == "__main__":
    sys.exit(main())
