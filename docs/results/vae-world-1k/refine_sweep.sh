#!/usr/bin/env bash
# Few-step refinement (eval-vae --refine N --refine-lr LR) of a world VAE on the tuning set (seed 5151, 24
# windows), one thread each:  bash refine_sweep.sh RUN
#   dynamiccity synth data/synthtown-tune5151 --scenes 12 --frames 16 --grid 64 64 8 --seed 5151 --val-fraction 0
run=$1; name=$(basename "$run")
for cfg in "0 0.05" "3 0.08" "5 0.03" "5 0.05" "5 0.08" "8 0.05"; do
  set -- $cfg
  out=refine-$name-s$1-lr$2.json
  [ -e "$out" ] || OMP_NUM_THREADS=1 dynamiccity eval-vae "$run" --data data/synthtown-tune5151 --format synthtown \
    --split all --refine "$1" --refine-lr "$2" --json "$out" > /dev/null
  python -c "import json; d = json.load(open('$out')); print('$name', 'steps $1 lr $2', round(d['miou'], 4), round(d['changing']['miou'], 4))"
done
