#!/usr/bin/env bash
# Record conditions-synthtown-world of docs/conditions.md: the world-coordinate DiT measured part by part.
#   bash scripts/conditions_world.sh      (after encode --coordinates world and train-dit, see the config)
# Needs data/synthtown-heldout32 (24 scenes of 32 frames, seed 4041) and data/synthtown64-eval (seed 99):
#   dynamiccity synth data/synthtown-heldout32 --scenes 24 --frames 32 --grid 64 64 8 --seed 4041 --val-fraction 0
#   dynamiccity synth data/synthtown64-eval --scenes 96 --frames 16 --grid 64 64 8 --seed 99
set -euo pipefail
DIT=${DIT:-runs/dit-world}
OUT=${OUT:-docs/results/conditions-synthtown-world}
ARGS="--dit $DIT --vae synthtown --data data/synthtown-heldout32 --out $OUT"
say() { echo "== $(date +%T) $*"; }
say ceiling;    python scripts/conditions_synthtown.py ceiling $ARGS --num 16
say command;    python scripts/conditions_synthtown.py command $ARGS --num 16
say trajectory; python scripts/conditions_synthtown.py trajectory $ARGS --num 16
say layout;     python scripts/conditions_synthtown.py layout $ARGS --num 16 --cfg 1 3
say uncond;     python scripts/conditions_synthtown.py uncond $ARGS --num 32
say fid
dynamiccity sample --dit "$DIT" --vae synthtown --num 32 --sampler dpmpp --steps 20 --batch 16 --seed 0 \
    --out runs/gen-table/dit-world-dpmpp20 --no-gifs
dynamiccity eval-gen --evaluator synthtown --real data/synthtown64-eval --fake runs/gen-table/dit-world-dpmpp20 \
    --subsets 6 --json "$OUT/fid-dit-world-dpmpp20.json"
say reliance
dynamiccity eval-dit "$DIT" --windows 64 --repeats 2 --t-min 700 --json "$OUT/eval-dit-t700.json"
say extend;     python scripts/conditions_synthtown.py extend $ARGS --num 8 --frames 128
say done
