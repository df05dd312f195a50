#!/usr/bin/env bash
# One GPU-machine session for the CUDA path, prepared here and run there in one go (the machine has
# the NVIDIA driver and PyTorch's CUDA wheels but no Rust; docs/cuda.md says how to prepare it):
#
#   scripts/gpu-prepare.sh          (fills .gpu/: the binaries, torch_reference.py)
#   (device tool) carry .gpu, run: OUT=$OUT scripts/gpu-run.sh
#
# What it measures, in this order (143-219 s on an H200; each step is capped by BUDGET):
#   1. the machine: GPU, driver, where the CUDA libraries are; `--device auto` picks the GPU; the
#      CUDA unit tests (our kernels on the GPU against the CPU);
#   2. training throughput at batch 64 and 128, ours (`bench --device cuda`, after warm-up batches
#      that absorb the PTX JIT), an older build of ours where one was carried (BASE_BIN in
#      gpu-prepare.sh), and PyTorch's (`torch_reference.py --device cuda`) on the same GPU,
#      alternating, two pairs each, with evaluation throughput;
#   3. profiles: Nsight Systems (kernel vs API time) and Nsight Compute (time by kernel) over our
#      steps, PyTorch's profiler over its own;
#   4. the seed recipe (`train --device cuda --seed 42`), 12 epochs or as many as fit in what is
#      left.
# Everything it prints goes to $OUT/gpu-run.log too; the JSON results, profiles and the recipe's
# metrics land in $OUT/results.tar.gz. With DRY_RUN=1 (on a machine without a GPU, against stub libraries) it goes through every
# step that needs no GPU and says which it skipped.
set -uo pipefail
cd "$(dirname "$0")/.."
T0=$SECONDS
BUDGET=${BUDGET:-300}
left() { echo $((BUDGET - (SECONDS - T0))); }
OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT"
exec > >(tee "$OUT/gpu-run.log") 2>&1
# On every exit, early ones included, let tee write the log's last lines before the machine goes.
trap 'exec >&- 2>&-; wait' EXIT
say() { printf '\n== %s (t=%ss)\n' "$*" "$((SECONDS - T0))"; }

W=/tmp/gpu-run
mkdir -p "$W"
# Unpacked outside .gpu/, so that a dry run here does not swell what is carried (64 MiB at most).
B=$W/vgg-mnist
rm -f "$OUT"/bench-ours.jsonl "$OUT"/bench-torch.jsonl
PY=${TORCH_PYTHON:-/opt/torch/.venv/bin/python}
[ -x "$PY" ] || PY=$(command -v python3)
TORCH_REF=./.gpu/torch_reference.py
DATA=www/data

say "binary"
B2=$W/vgg-mnist-base
T=$W/vgg-mnist-tests
rm -f "$B" "$B2" "$T"
# The builds travel in one xz stream (docs/cuda.md).
if [ -f .gpu/vgg-mnist.tar.xz ]; then
  "$PY" -c "import tarfile,sys; tarfile.open(sys.argv[1], 'r:xz').extractall(sys.argv[2])" .gpu/vgg-mnist.tar.xz "$W"
fi
chmod +x "$B" "$B2" "$T" 2>/dev/null
ls -la "$B" || { echo "no binary at $B"; exit 1; }
# An older build, measured beside this one, and the unit tests.
ls -la "$B2" "$T" 2>/dev/null

say "machine"
timeout 30 nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv || echo "nvidia-smi: not available (dry run?)"
# The binary was built with CUDA 13.0: it needs a CUDA 13 driver (>= 580) and CUDA 13 libraries.
torch_cuda=$(timeout 60 "$PY" -c "import torch; print(torch.version.cuda)" 2>/dev/null | tail -1)
echo "PyTorch's CUDA: ${torch_cuda:-none} (the libraries below must be CUDA 13's)"
# The CUDA libraries of PyTorch's wheels (cuBLAS, cuRAND, NVRTC, the runtime); libcuda comes with
# the driver.
site=$("$PY" -c "import site; print(site.getsitepackages()[0])" 2>/dev/null)
dirs=()
for l in libcublas.so.13 libcublasLt.so.13 libcurand.so.10 libnvrtc.so.13 libcudart.so.13; do
  d=$(find "$site/nvidia" /usr/local/cuda*/lib64 /usr/lib/x86_64-linux-gnu -name "$l" 2>/dev/null | head -1 | xargs -r dirname)
  echo "$l -> ${d:-NOT FOUND}"
  [ -n "$d" ] && dirs+=("$d")
done
# Libraries carried in .gpu/lib (xz-compressed: libcurand, which PyTorch's newer wheels no longer
# ship) go last: the machine's own copies win where it has them.
if compgen -G ".gpu/lib/*.xz" >/dev/null; then
  mkdir -p "$W/lib"
  for f in .gpu/lib/*.xz; do
    "$PY" -c "import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2],'wb'))" "$f" "$W/lib/$(basename "$f" .xz)"
  done
  dirs+=("$W/lib")
fi
export LD_LIBRARY_PATH="$(printf '%s\n' "${dirs[@]}" | awk 'NF && !seen[$0]++' | paste -sd:)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
ldd "$B" | grep -E "cuda|cublas|curand|nvrtc|not found"
missing=$(ldd "$B" | grep "not found" || true)
if [ -n "$missing" ]; then
  echo "a library the binary needs was not found (above): nothing can run; see docs/cuda.md"
  exit 1
fi

say "--device auto picks the GPU (tiny run)"
timeout 60 "$B" train --device auto --epochs 1 --limit-train 256 --limit-test 256 --out "$W/auto" --quiet 2>&1 | grep -E "device|rror" | head -3
if ! timeout 60 "$B" bench --device cuda --batches 1 --warmup 0 --data-dir "$DATA" >/dev/null 2>"$W/probe.err"; then
  echo "no usable GPU: $(head -1 "$W/probe.err")"
  [ "${DRY_RUN:-0}" = 1 ] || exit 1
  echo "DRY_RUN: the GPU steps below are skipped, the CPU ones and PyTorch's run where they can"
  GPU=0
else
  GPU=1
fi
# The older build runs only where it starts and answers too.
BASE=0
if [ -x "$B2" ] && [ "$GPU" = 1 ]; then
  if timeout 60 "$B2" bench --device cuda --batches 1 --warmup 0 --data-dir "$DATA" >/dev/null 2>"$W/probe2.err"; then
    BASE=1
    echo "base build: answers"
  else
    echo "base build: no run: $(head -3 "$W/probe2.err")"
  fi
fi
rm -f "$OUT"/bench-ours-base.jsonl

say "the CUDA unit tests (our kernels on the GPU against the CPU)"
if [ -x "$T" ] && [ "$GPU" = 1 ]; then
  # The whole output (a failure's message included) and its exit status.
  timeout 120 "$T" cuda --test-threads 1 > "$OUT/cuda-tests.log" 2>&1
  echo "unit tests: exit $?" | tee -a "$OUT/cuda-tests.log"
  grep -E "^test |FAILED|panicked|test result" "$OUT/cuda-tests.log"
else
  echo "skipped (no test binary, or no GPU)"
fi

say "throughput, ours vs PyTorch, same GPU, alternating (2 pairs per batch size)"
# Each run is skipped once the budget is spent, and no run may outlast what is left of it.
cap() { local l; l=$(left); echo $(( l > $1 ? $1 : (l > 10 ? l - 5 : 5) )); }
for bs in 64 128; do
  for pair in 1 2; do
    if [ "$(left)" -lt 150 ]; then echo "budget: skipping batch $bs pair $pair"; continue; fi
    if [ "$GPU" = 1 ]; then
      timeout "$(cap 90)" "$B" bench --device cuda --widths 32 64 --batch-size "$bs" --batches 400 --warmup 40 \
        --data-dir "$DATA" | grep '^{' | tail -1 | tee -a "$OUT/bench-ours.jsonl"
    fi
    if [ "$BASE" = 1 ]; then
      timeout "$(cap 90)" "$B2" bench --device cuda --widths 32 64 --batch-size "$bs" --batches 400 --warmup 40 \
        --data-dir "$DATA" | grep '^{' | tail -1 | tee -a "$OUT/bench-ours-base.jsonl"
    fi
    if [ -f "$TORCH_REF" ]; then
      timeout "$(cap 90)" "$PY" "$TORCH_REF" --device "$([ "$GPU" = 1 ] && echo cuda || echo cpu)" --widths 32 64 \
        --batch-size "$bs" --batches "$([ "$GPU" = 1 ] && echo 400 || echo 20)" --data-dir "$DATA" 2>&1 |
        grep '^{' | tail -1 | tee -a "$OUT/bench-torch.jsonl"
    else
      echo "no $TORCH_REF: copy ../shared/bench/torch_reference.py to .gpu/ before the run"
    fi
  done
done
"$PY" - "$OUT" <<'PY'
import json, statistics, sys, os
out = sys.argv[1]
def load(name):
    path = os.path.join(out, name)
    return [json.loads(l) for l in open(path) if l.strip().startswith("{")] if os.path.exists(path) else []
torch = load("bench-torch.jsonl")
for name, ours in (("ours", load("bench-ours.jsonl")), ("base build", load("bench-ours-base.jsonl"))):
    for bs in (64, 128):
        o = [r for r in ours if r.get("batch_size") == bs]
        t = [r for r in torch if r.get("batch_size") == bs]
        for key in ("train_images_per_second", "eval_images_per_second"):
            if o and t:
                mo, mt = statistics.median(r[key] for r in o), statistics.median(r[key] for r in t)
                print(f"batch {bs} {key}: {name} {mo:.0f} / pytorch {mt:.0f} = {mo / mt:.2f}x (medians of {len(o)} and {len(t)} runs)")
PY

say "profiles"
if [ "$GPU" = 1 ] && command -v nsys >/dev/null && [ "$(left)" -gt 60 ]; then
  # Nsight Systems: kernel time against CUDA API time over a whole bench run (is the GPU busy, or
  # waiting for the host to launch?).
  timeout "$(cap 50)" nsys profile --stats=true --force-overwrite true -o "$W/nsys" \
    "$B" bench --device cuda --batches 100 --warmup 20 --data-dir "$DATA" > "$W/nsys.txt" 2>&1
  grep -A 14 -E "cuda_api_sum|cuda_gpu_kern_sum" "$W/nsys.txt" | cut -c1-200 | tee "$OUT/profile-ours-nsys.txt"
else
  echo "nsys: skipped (no GPU, no nsys, or no time left)"
fi
if [ "$GPU" = 1 ] && command -v ncu >/dev/null && [ "$(left)" -gt 60 ]; then
  # Only the duration metric: one pass per kernel, so 1,500 launches (several training steps, after
  # 10 warm-up ones) take seconds, not minutes.
  timeout "$(cap 50)" ncu --csv --print-units base --print-summary per-kernel --metrics gpu__time_duration.sum \
    --launch-skip 3000 --launch-count 1500 \
    "$B" bench --device cuda --batches 30 --warmup 10 --data-dir "$DATA" > "$W/ncu.csv" 2>"$W/ncu.err"
  # Cloud GPUs may refuse the counters (ERR_NVGPUCTRPERM): the reason comes back.
  cp "$W/ncu.err" "$OUT/ncu.err" 2>/dev/null
  "$PY" - "$W/ncu.csv" <<'PY' | tee "$OUT/profile-ours.txt"
import csv, sys, collections
rows = list(csv.reader(l for l in open(sys.argv[1]) if l.startswith('"')))
if not rows:
    print("ncu gave no rows"); sys.exit()
head, rows = rows[0], rows[1:]
try:
    k, m, v = head.index("Kernel Name"), head.index("Metric Name"), head.index("Average")
    n = head.index("Invocations") if "Invocations" in head else None
except ValueError:
    print("ncu columns:", head[:12]); sys.exit()
total = collections.Counter()
for r in rows:
    if r[m] in ("Duration", "gpu__time_duration.sum"):
        total[r[k][:90]] += float(r[v].replace(",", "")) * (float(r[n]) if n is not None else 1)
s = sum(total.values()) or 1
count = sum(float(r[n]) for r in rows if n is not None and r[m] in ("Duration", "gpu__time_duration.sum"))
print(f"{count:.0f} launches, {s / 1e6:.2f} ms of kernel time in all ({s / max(count, 1) / 1e3:.1f} us per launch)")
for name, t in total.most_common(15):
    print(f"{100 * t / s:5.1f} %  {name}")
PY
else
  echo "ncu: skipped (no GPU, no ncu, or no time left)"
fi
if [ "$GPU" = 1 ] && [ "$(left)" -gt 30 ]; then
  timeout "$(cap 60)" "$PY" - "$DATA" <<'PY' | tee "$OUT/profile-torch.txt"
import gzip, os, sys, torch, torch.nn as nn, torch.nn.functional as F
from torch.profiler import profile, ProfilerActivity
d = sys.argv[1]
raw = gzip.open(os.path.join(d, "train-images-idx3-ubyte.gz")).read()[16:16 + 64 * 784 * 20]
x = torch.frombuffer(bytearray(raw), dtype=torch.uint8).view(-1, 1, 28, 28).float().div(255).cuda()
y = torch.randint(0, 10, (x.shape[0],), device="cuda")
net = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                    nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                    nn.Flatten(), nn.Linear(64 * 49, 10)).cuda()
opt = torch.optim.AdamW(net.parameters(), 1e-3, weight_decay=0)
def step(i):
    xb, yb = x[i * 64:(i + 1) * 64], y[i * 64:(i + 1) * 64]
    opt.zero_grad(); F.cross_entropy(net(xb), yb).backward(); opt.step()
for i in range(10): step(i)
torch.cuda.synchronize()
with profile(activities=[ProfilerActivity.CUDA, ProfilerActivity.CPU]) as p:
    for i in range(10, 20): step(i)
    torch.cuda.synchronize()
try:
    print(p.key_averages().table(sort_by="device_time_total", row_limit=15))
except Exception:
    print(p.key_averages().table(sort_by="cuda_time_total", row_limit=15))
PY
else
  echo "PyTorch profiler: skipped"
fi
say "the seed recipe on the GPU"
if [ "$GPU" = 1 ]; then
  epochs=$("$PY" - "$OUT" "$(left)" <<'PY'
import json, sys, os
out, left = sys.argv[1], float(sys.argv[2])
def load(name):
    path = os.path.join(out, name)
    return [json.loads(l) for l in open(path) if l.strip().startswith("{")] if os.path.exists(path) else []
rows = load("bench-ours.jsonl")
rate = [r for r in rows if r["batch_size"] == 128] or rows
# The recipe trains at batch 128 with augmentation (host-side work), so allow for half the bench rate.
ips = max(min(r["train_images_per_second"] for r in rate) / 2, 1.0)
ev = max(min(r["eval_images_per_second"] for r in rate) / 2, 1.0)
per = 60000 / ips + 10000 / ev
print(max(0, min(12, int((left - 45) / (1.15 * per)))))
PY
)
  echo "epochs that fit: $epochs of 12 ($(left) s left)"
  if [ "${epochs:-0}" -gt 0 ]; then
    timeout $(( $(left) > 60 ? $(left) - 40 : 20 )) "$B" train --device cuda --seed 42 --epochs "$epochs" \
      --data-dir "$DATA" --out "$W/recipe" --quiet 2>&1 | tail -60 | tee "$OUT/recipe.log"
    for f in metrics.json training_curves.png confusion_matrix.png model.safetensors; do cp "$W/recipe/$f" "$OUT/recipe-$f" 2>/dev/null; done
  fi
else
  echo "DRY_RUN: skipped (no GPU)"
fi

timeout 30 nvidia-smi --query-gpu=name,utilization.gpu,memory.used --format=csv 2>/dev/null
say "done"
# The device tool brings back only a few files: everything but this log goes in one archive.
(cd "$OUT" && ls | grep -v -e '^gpu-run.log$' -e '^results.tar.gz$' | tar -czf results.tar.gz -T - --remove-files)
ls -la "$OUT"
