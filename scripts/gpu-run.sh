#!/usr/bin/env bash
# One GPU-machine session for the CUDA path (copy to .gpu/run.sh beside .gpu/vgg-mnist.xz, built by
# `CUDA_COMPUTE_CAP=90 scripts/cuda-build-stubbed.sh` and xz-compressed): a short smoke run, then the seed recipe on the GPU,
# cut to the epochs that fit if the GPU turns out slow. Ends within ~8 minutes.
# Results are copied flat into $OUT (at most 8 files come back).
cd "$(dirname "$0")/.."
T0=$SECONDS
left() { echo $((470 - (SECONDS - T0))); }
B=./.gpu/vgg-mnist
W=/tmp/gpu-run
mkdir -p "$W" "$OUT"
# The binary travels xz-compressed (54 MB stripped, mostly candle's PTX and fatbins; 64 MiB may travel).
python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('.gpu/vgg-mnist.xz'), open('$B','wb'))"
chmod +x "$B"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
# The CUDA 13 libraries of PyTorch's wheels; the carried libcudart.so.13 (toolkit 13.0) is the fallback.
dirs=()
for l in libcublas.so.13 libcublasLt.so.13 libcurand.so.10 libnvrtc.so.13 libcudart.so.13; do
  d=$(timeout 60 find /opt /usr/local /usr/lib -name "$l" 2>/dev/null | head -1 | xargs -r dirname)
  echo "$l -> ${d:-NOT FOUND}"
  [ -n "$d" ] && dirs+=("$d")
done
dirs+=("$PWD/.gpu/lib")
export LD_LIBRARY_PATH="$(printf '%s\n' "${dirs[@]}" | awk '!seen[$0]++' | paste -sd:)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
ldd "$B" | grep -E "cu|nvrtc|not found"

echo "== --device auto picks (tiny run), t=$((SECONDS - T0))s"
timeout 90 "$B" train --device auto --epochs 1 --limit-train 256 --limit-test 256 --out "$W/auto" --quiet 2>&1 | grep -E "device|rror"

echo "== smoke: 2 epochs of 12800 images (the second without start-up costs), t=$((SECONDS - T0))s"
timeout 150 "$B" train --device cuda --epochs 2 --limit-train 12800 --limit-test 10000 --out "$W/smoke" --quiet 2>&1 | tee "$OUT/smoke.log"
cp "$W/smoke/metrics.json" "$OUT/smoke-metrics.json" 2>/dev/null

# Epochs that fit: 15 (the recipe) unless the smoke's rates say they would overrun.
epochs=$(python3 -c "
import json
try:
    m = json.load(open('$W/smoke/metrics.json'))
    per = 60000 / m['history'][-1]['train_images_per_second'] + 10000 / m['eval_images_per_second']
except Exception:
    per = 1e9
print(max(0, min(15, int(($(left) - 25) / (1.1 * per)))))")
echo "== full: seed 42, $epochs epochs ($(left)s left), t=$((SECONDS - T0))s"
if [ "$epochs" -gt 0 ]; then
  timeout $(( $(left) > 30 ? $(left) : 30 )) "$B" train --device cuda --seed 42 --epochs "$epochs" --out "$W/full" --quiet 2>&1 | tee "$OUT/full.log"
  for f in metrics.json model.safetensors training_curves.png confusion_matrix.png; do cp "$W/full/$f" "$OUT/full-$f" 2>/dev/null; done
  echo "== eval of the full model with --device auto, t=$((SECONDS - T0))s"
  timeout 60 "$B" eval --model "$W/full/model.safetensors" --device auto 2>&1 | head -3
fi
nvidia-smi --query-gpu=name,utilization.gpu,memory.used --format=csv
echo "== done in $((SECONDS - T0))s"; ls -la "$OUT"
