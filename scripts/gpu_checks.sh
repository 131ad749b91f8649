#!/usr/bin/env bash
# The paper-scale checks of issues 3 and 4 on one GPU, in one go (a lent GPU session has minutes, not hours):
#   1. bench vae at carlasc (all four encoder/decoder variants) and occ3d-waymo;
#   2. bench dit at carlasc and occ3d-waymo (ddpm-1000 timed for real, not estimated);
#   3. a parallel recipe sweep of the synthtown-tiny VAE (data from data/synthtown64), to see how far each
#      recipe gets at a CPU-hour-sized step budget and with a longer schedule.
# Usage: OUT=results/ DATA=data/synthtown64 [DEVICE=cuda] [BENCH=1] scripts/gpu_checks.sh [seconds for everything]
set -u
budget=${1:-540}
start=$(date +%s)
OUT=${OUT:?set OUT to a results folder}
DATA=${DATA:-data/synthtown64}
DC="python3 -m dynamiccity"
DEVICE=${DEVICE:-cuda}
left() { echo $((budget - ($(date +%s) - start))); }
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv >"$OUT/gpu.txt" 2>&1
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())" >>"$OUT/gpu.txt" 2>&1

if [ "${BENCH:-1}" = 1 ]; then
timeout 150 $DC bench vae --preset carlasc --encoder projection --encoder avgpool --decoder ess --decoder query \
  --device $DEVICE --repeats 5 --json "$OUT/bench_vae_carlasc.json"
echo "bench vae carlasc done at $(( $(date +%s) - start )) s"
timeout 90 $DC bench vae --preset occ3d-waymo --encoder projection --decoder ess --decoder query \
  --device $DEVICE --repeats 3 --json "$OUT/bench_vae_occ3d_waymo.json"
echo "bench vae waymo done at $(( $(date +%s) - start )) s"
timeout 90 $DC bench dit --preset carlasc --device $DEVICE --repeats 5 --sampler dpmpp-20 --sampler ddim-50 \
  --sampler ddpm-1000 --json "$OUT/bench_dit_carlasc.json" >/dev/null
timeout 60 $DC bench dit --preset occ3d-waymo --device $DEVICE --repeats 5 --sampler dpmpp-20 --sampler ddim-50 \
  --json "$OUT/bench_dit_occ3d_waymo.json" >/dev/null
echo "bench dit done at $(( $(date +%s) - start )) s"
fi

sweep=$(( $(left) - 25 ))
echo "sweep gets $sweep s"
common="--preset synthtown-tiny --data $DATA --format synthtown --device $DEVICE --set schedule=cosine
  --set warmup_steps=20 --set kl_weight=5e-4 --set stride=4 --set eval_every=250 --set ckpt_every=100000"
run() {  # name steps overrides...
  local name=$1 steps=$2; shift 2
  OMP_NUM_THREADS=1 timeout "$sweep" python3 -m dynamiccity train-vae $common --out "/tmp/sweep/$name" \
    --steps "$steps" "$@" >"/tmp/sweep/$name.log" 2>&1 &
}
mkdir -p /tmp/sweep
run avg-1500 1500 --set encoder=avgpool --set lr=3e-3
run proj-1500 1500 --set encoder=projection --set lr=3e-3
run avg-1500-lr6e-3 1500 --set encoder=avgpool --set lr=6e-3
run avg-1500-lr1e-3 1500 --set encoder=avgpool --set lr=1e-3
run avg-1500-kl1e-5 1500 --set encoder=avgpool --set lr=3e-3 --set kl_weight=1e-5
run proj-1500-nodrop 1500 --set encoder=projection --set lr=3e-3 --set proj_dropout=0
run avg-8000 8000 --set encoder=avgpool --set lr=3e-3
run proj-8000 8000 --set encoder=projection --set lr=3e-3
wait
for f in /tmp/sweep/*.log; do
  echo "== $(basename "$f" .log)"
  tr '\r' '\n' <"$f" | grep -E "validation:|Error|error" | sed -E 's/, iou_[a-z]+=[0-9.]+//g' | tail -40
  tr '\r' '\n' <"$f" | grep -E "s/step" | tail -1
done >"$OUT/sweep.txt"
tar -C /tmp/sweep -czf "$OUT/sweep_runs.tgz" --exclude=tb --exclude='*.optim.safetensors' . 2>/dev/null
echo "all done at $(( $(date +%s) - start )) s"
