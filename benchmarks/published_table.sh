#!/usr/bin/env bash
# The runs that complete the published static table (Madsen & Johansen 2020, madsen2020 preset): each
# cell with a non-zero published rate that no committed run tests yet, at the budget it needs (the
# larger of twice its published solved-at median and its mean, the full 5e6 where that is more), and
# each cell published as 0% at 2e5 steps. Two lanes run side by side, each its cells in turn,
# the ones of a few hours first; a results file holds one budget and belongs to one lane (a file
# takes one sweep at a time). A cell already in its file is skipped and a cell with a checkpoint
# resumes from it, so running this again continues where a stopped run left off; each command's
# output goes to the log beside its results file.
#
#   source .venv/bin/activate && nice -n 19 bash benchmarks/published_table.sh
#
# Stop it with Ctrl-C or kill PID (of this script): both lanes' runs save their checkpoints and end.
# docs/results/madsen2020.md shows the whole table and the commands of the runs before these.
set -euo pipefail
cd "$(dirname "$0")/.."
results=benchmarks/results

bench() {  # bench FILE-STEM STEPS ARGS...: one grid into benchmarks/results/FILE-STEM.jsonl
    local stem=$1 steps=$2
    shift 2
    echo "$(date -u +%FT%TZ) nalm bench $* --steps $steps -> $stem.jsonl" >&2
    nalm bench --preset madsen2020 --no-progress "$@" --steps "$steps" \
        --results "$results/$stem.jsonl" >> "$results/$stem.txt" 2>&1
}

lane_one() {
    bench madsen2020-1000k 1000000 --models nac --operations add sub             # 100%, solved at 2.5e5 / 9e3 (means 4.9e5, 3.7e5)
    bench madsen2020-1500k 1500000 --models nac_mul --operations sqrt            # 7%, solved at 4e5 (mean 1.5e6)
    bench madsen2020-400k 400000 --models nau --operations add                  # 100%, solved at 1.8e4 (mean 3.9e5)
    bench madsen2020-200k-units 200000 --models nau --operations sub mul div sqrt square
    bench madsen2020-200k-units 200000 --models nac --operations mul div sqrt square
    bench madsen2020-200k-units 200000 --models nmu --operations add div sqrt
    bench madsen2020-200k-units 200000 --models nac_mul --operations add sub div
    bench madsen2020-200k-units 200000 --models nalu --operations div square
    bench madsen2020-5000k 5000000 --models nac_mul --operations square          # 77%, solved at 3.3e6
    bench madsen2020-2800k 2800000 --models nmu --operations mul                 # 98%, solved at 1.4e6 (the published penalty)
    bench madsen2020-5000k 5000000 --models nalu --operations sqrt               # 2%, solved at 2.6e6
}

lane_two() {  # its 5e6 cells in a file of their own, beside lane one's
    bench madsen2020-3800k 3800000 --models nalu --operations sub                # 14%, solved at 1.9e6
    bench madsen2020-5000k-sub 5000000 --models linear --operations sub          # 7%, solved at 3.3e6
    bench madsen2020-5000k-sub 5000000 --models nac --operations sub             # 100%; 88/100 at 1e6 cannot refute it
}

lane() {  # lane NAME FUNCTION: run the lane's cells in turn; say when it stops, and with what status
    trap "code=\$?; echo \"\$(date -u +%FT%TZ) lane $1 stopped (status \$code)\" >&2" EXIT
    "$2"
}

stop() {  # Ctrl-C or kill: interrupt both lanes' runs (each saves its checkpoint), then wait for them
    kill -INT -- "-$one" "-$two" 2> /dev/null || true
}

set -m  # each lane in a process group of its own, which stop() reaches whole
lane one lane_one &
one=$!
lane two lane_two &
two=$!
set +m
trap stop INT TERM
status=0
for pid in "$one" "$two"; do
    until wait "$pid"; do
        code=$?
        if ! kill -0 "$pid" 2> /dev/null; then  # it ended (else a signal ended the wait)
            status=$code
            break
        fi
    done
done
exit "$status"
