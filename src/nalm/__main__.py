"""``nalm`` and ``python -m nalm``: the command line ([`nalm.cli`][nalm.cli]), honouring Ctrl-C from the first moment."""

import sys

from nalm.validation import MissingDependencyError


def main() -> int:
    """Run the command line; a Ctrl-C while its modules load (PyTorch takes seconds) ends it with one
    line, and so does a missing ``bench`` extra (exit status 2), which every command needs."""
    argv = sys.argv[1:]
    command = f"nalm {argv[0]}" if argv and not argv[0].startswith("-") else "nalm"
    try:
        from nalm.bench import require_dependencies

        require_dependencies(command)
        from nalm.cli import main as command_line  # imported here, not above, so a Ctrl-C while it loads is caught
    except KeyboardInterrupt:
        print("nalm: interrupted while starting; nothing was written", file=sys.stderr)
        return 130
    except MissingDependencyError as error:
        print(error, file=sys.stderr)
        return 2
    return command_line()


if __name__ == "__main__":
    sys.exit(main())
