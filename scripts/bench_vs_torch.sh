#!/usr/bin/env bash
# Training/eval throughput of vgg-mnist vs the PyTorch reference, run back to back on this machine
# with the same widths, batch size and batch count; prints both JSON lines and ours/PyTorch.
#
# Usage: scripts/bench_vs_torch.sh [W1 W2 [BATCH_SIZE [BATCHES]]]     (default: 32 64 64 200)
#        scripts/bench_vs_torch.sh all    both the seed (32 64) and the browser's small (8 16) model
# Needs PyTorch in a venv (once):
#   python3 -m venv /tmp/torchref && /tmp/torchref/bin/pip install -q torch
# Environment: TORCH_PYTHON (default /tmp/torchref/bin/python), SHARED (default ../shared),
#              BENCH_CMD (default: target/release/vgg-mnist bench),
#              REPEAT (default 1): pairs of runs, ours then PyTorch, alternating; with more than
#              one, each pair's ratio is printed and the median ratio last (a shared machine's
#              slow phases then hit both sides alike).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = all ]; then
  "$0" 32 64 "${2:-64}" "${3:-200}"
  echo
  exec "$0" 8 16 "${2:-64}" "${3:-200}"
fi

W1=${1:-32} W2=${2:-64} BS=${3:-64} BATCHES=${4:-200}
SHARED=${SHARED:-../shared}
TORCH_PYTHON=${TORCH_PYTHON:-/tmp/torchref/bin/python}
read -r -a BENCH_CMD <<< "${BENCH_CMD:-target/release/vgg-mnist bench}"
ARGS=(--widths "$W1" "$W2" --batch-size "$BS" --batches "$BATCHES" --data-dir "$SHARED/mnist")

# Build first, so compilation does not overlap either measurement.
cargo build --quiet --release
REPEAT=${REPEAT:-1}
pairs=()
for _ in $(seq "$REPEAT"); do
  ours=$("${BENCH_CMD[@]}" "${ARGS[@]}" | tail -n 1)
  torch=$("$TORCH_PYTHON" "$SHARED/bench/torch_reference.py" "${ARGS[@]}" 2>/dev/null | tail -n 1)
  echo "ours:    $ours"
  echo "pytorch: $torch"
  pairs+=("$ours" "$torch")
done
python3 - "${pairs[@]}" <<'PY'
import json, statistics, sys
runs = [json.loads(s) for s in sys.argv[1:]]
pairs = list(zip(runs[0::2], runs[1::2]))
for key in ("train_images_per_second", "eval_images_per_second"):
    ratios = [o[key] / t[key] for o, t in pairs]
    for o, t in pairs:
        print(f"{key}: ours {o[key]} / pytorch {t[key]} = {o[key] / t[key]:.2f}x")
    if len(pairs) > 1:
        print(f"{key}: median ratio {statistics.median(ratios):.2f}x over {len(pairs)} pairs")
PY
