#!/usr/bin/env bash
# Paper-scale checks on one GPU, in one go (a lent GPU session has minutes, not hours):
#   1. [BENCH=1]     bench vae at carlasc (all four encoder/decoder variants) and occ3d-waymo, and a CUDA
#                    operator profile of the carlasc training step;
#   2. [BENCH_DIT=1] bench dit at carlasc and occ3d-waymo (ddpm-1000 timed for real, not estimated);
#   3. [TRAIN=1]     longer training than this project's CPU allows, every run at once on the GPU until the
#                    budget ends: the synthtown-tiny VAE (average-pooling and projection encoders) on DATA, and
#                    the tiny DiT (preset, wider, v-prediction) on latents that VAE_RUN encodes there.
# Results land in OUT; the training runs (weights, logs, TensorBoard) are packed into runs.tgz, split into
# 15 MB parts (cat OUT/runs.tgz.part-* | tar xz).
# Usage: OUT=results/ DATA=data/synthtown64 VAE_RUN=runs/vae-dec64 [DEVICE=cuda] scripts/gpu_checks.sh [seconds]
set -u
budget=${1:-540}
start=$(date +%s)
OUT=${OUT:?set OUT to a results folder}
DATA=${DATA:-data/synthtown64}
VAE_RUN=${VAE_RUN:-runs/vae-dec64}
LATENTS=${LATENTS:-data/latents-gpu}
DEVICE=${DEVICE:-cuda}
VAE_STEPS=${VAE_STEPS:-4000}
DIT_STEPS=${DIT_STEPS:-8000}
DC="python3 -m dynamiccity"
left() { echo $((budget - ($(date +%s) - start))); }
at() { echo "$1 at $(($(date +%s) - start)) s"; }
export PYTHONUNBUFFERED=1
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv  # printed: the device tool returns 8 files
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.is_available() and torch.cuda.get_device_name())"

if [ "${BENCH:-1}" = 1 ]; then
  timeout 120 $DC bench vae --preset carlasc --encoder projection --encoder avgpool --decoder ess \
    --decoder query --device "$DEVICE" --repeats 5 --json "$OUT/bench_vae_carlasc.json"
  at "bench vae carlasc"
  timeout 90 $DC bench vae --preset occ3d-waymo --encoder projection --decoder ess --decoder query \
    --device "$DEVICE" --repeats 3 --json "$OUT/bench_vae_occ3d_waymo.json"
  at "bench vae occ3d-waymo"
  timeout 45 python3 scripts/profile_vae_step.py --preset carlasc --device "$DEVICE" --rows 20 \
    >"$OUT/profile_vae_carlasc.txt" 2>&1
  at "profile vae carlasc"
fi
if [ "${BENCH_DIT:-0}" = 1 ]; then
  timeout 90 $DC bench dit --preset carlasc --device "$DEVICE" --repeats 5 --sampler dpmpp-20 \
    --sampler ddim-50 --sampler ddpm-1000 --json "$OUT/bench_dit_carlasc.json" >/dev/null
  timeout 60 $DC bench dit --preset occ3d-waymo --device "$DEVICE" --repeats 5 --sampler dpmpp-20 \
    --sampler ddim-50 --json "$OUT/bench_dit_occ3d_waymo.json" >/dev/null
  at "bench dit"
fi

if [ "${TRAIN:-1}" = 1 ]; then
  runs=/tmp/long
  mkdir -p "$runs"
  train_end=$(($(date +%s) + $(left) - 30))  # 30 s kept for packing
  until_end() { echo $((train_end - $(date +%s))); }
  launch() {  # name command... : one run in the background, stopped when the training time is up
    local name=$1; shift
    OMP_NUM_THREADS=2 timeout "$(until_end)" "$@" --out "$runs/$name" >"$runs/$name.log" 2>&1 &
  }
  vae="train-vae --preset synthtown-tiny --data $DATA --format synthtown --device $DEVICE --steps $VAE_STEPS
    --set lr=3e-3 --set schedule=cosine --set warmup_steps=50 --set kl_weight=5e-4 --set stride=4
    --set eval_every=500 --set ckpt_every=250"
  launch vae-avgpool $DC $vae --set encoder=avgpool
  launch vae-projection $DC $vae --set encoder=projection
  $DC encode "$VAE_RUN" --data "$DATA" --format synthtown --out "$LATENTS" --stride "${ENCODE_STRIDE:-1}" --device "$DEVICE" \
    >"$runs/encode.log" 2>&1
  at "encode ($(tail -c 200 "$runs/encode.log" | tr '\r\n' '  '))"
  dit="train-dit --preset synthtown-tiny --latents $LATENTS --device $DEVICE --steps $DIT_STEPS
    --set batch_size=32 --set lr=4e-4 --set schedule=cosine --set warmup_steps=200 --set ema=0.999
    --set eval_every=500 --set ckpt_every=250"
  launch dit-tiny $DC $dit
  launch dit-wide $DC $dit --set hidden=192 --set depth=10 --set heads=6
  launch dit-v $DC $dit --set prediction=v_prediction
  wait
  at "training"
  for f in "$runs"/*.log; do
    echo "== $(basename "$f" .log)"
    tr '\r' '\n' <"$f" | grep -E "validation|Error|error|Traceback" | sed -E 's/, iou_[a-z]+=[0-9.]+//g' | tail -12
    tr '\r' '\n' <"$f" | grep -E "s/step|it/s" | tail -1
  done >"$OUT/training.txt"
  cp "$LATENTS/manifest.json" "$runs/latents_manifest.json"
  tar -C "$runs" -czf /tmp/runs.tgz --exclude='*.optim.safetensors' --exclude='last.safetensors' \
    --exclude='last.ema.safetensors' --exclude='./dit-*/checkpoints/best.safetensors' --exclude='*.rng.safetensors' .
  split -b 15M -d /tmp/runs.tgz "$OUT/runs.tgz.part-"
  at "packed $(du -h /tmp/runs.tgz | cut -f1)"
fi
for f in "$OUT"/*.json "$OUT"/training.txt; do [ -f "$f" ] && { echo "== $f"; cat "$f"; }; done
at "all done"
