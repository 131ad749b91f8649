#!/usr/bin/env bash
# Records conditions-synthtown-world and conditions-synthtown-world-placed of docs/conditions.md: a
# world-coordinate DiT measured part by part.
#   bash scripts/conditions_world.sh      (after encode --coordinates world and train-dit, see the config)
#   DIT=runs/dit-world-placed OUT=docs/results/conditions-synthtown-world-placed \
#       PARTS="layout uncond fid reliance forecast command trajectory extend" bash scripts/conditions_world.sh
#   CFG="1 3 5" sets the layout's guidance scales (default 1 3); parts inpaint, outpaint and outpaint-steer
#   run scripts/editing_synthtown.py on data/synthtown-heldout, parts forecast-tune and forecast-votes score
#   voted forecasts (docs/editing.md).
# Needs data/synthtown-heldout32 (24 scenes of 32 frames, seed 4041), data/synthtown-heldout (24 scenes of 16
# frames, seed 4041: the 24 forecasting pairs of docs/editing.md) and data/synthtown64-eval (seed 99):
#   dynamiccity synth data/synthtown-heldout32 --scenes 24 --frames 32 --grid 64 64 8 --seed 4041 --val-fraction 0
#   dynamiccity synth data/synthtown-heldout --scenes 24 --frames 16 --grid 64 64 8 --seed 4041 --val-fraction 0
#   dynamiccity synth data/synthtown64-eval --scenes 96 --frames 16 --grid 64 64 8 --seed 99
set -euo pipefail
DIT=${DIT:-runs/dit-world}
OUT=${OUT:-docs/results/conditions-synthtown-world}
PARTS=${PARTS:-"ceiling command trajectory layout uncond fid reliance extend"}
[ -d "$DIT" ] || { echo "error: $DIT: no such run folder (set DIT to a world-coordinate DiT run)" >&2; exit 1; }
NAME=$(basename "$DIT")
ARGS="--dit $DIT --vae synthtown --data data/synthtown-heldout32 --out $OUT"
say() { echo "== $(date +%T) $*"; }
for part in $PARTS; do
    say "$part"
    case $part in
        ceiling | command | trajectory) python scripts/conditions_synthtown.py "$part" $ARGS --num 16 ;;
        layout) python scripts/conditions_synthtown.py layout $ARGS --num 16 --cfg ${CFG:-1 3} ;;
        uncond) python scripts/conditions_synthtown.py uncond $ARGS --num 32 ;;
        fid)
            dynamiccity sample --dit "$DIT" --vae synthtown --num 32 --sampler dpmpp --steps 20 --batch 16 \
                --seed 0 --out "runs/gen-table/$NAME-dpmpp20" --no-gifs
            dynamiccity eval-gen --evaluator synthtown --real data/synthtown64-eval \
                --fake "runs/gen-table/$NAME-dpmpp20" --subsets 6 --json "$OUT/fid-$NAME-dpmpp20.json"
            ;;
        reliance) dynamiccity eval-dit "$DIT" --windows 64 --repeats 2 --t-min 700 --json "$OUT/eval-dit-t700.json" ;;
        extend) python scripts/conditions_synthtown.py extend $ARGS --num 8 --frames 128 ;;
        inpaint | outpaint)
            python scripts/editing_synthtown.py "$part" --dit "$DIT" --vae synthtown --data data/synthtown-heldout \
                --out "$OUT" --num 16
            ;;
        outpaint-steer)
            python scripts/editing_synthtown.py outpaint --dit "$DIT" --vae synthtown --data data/synthtown-heldout \
                --out "$OUT" --num 16 --context-steer 0.03 --steer-iterations 1 --tag=-steer0.03
            ;;
        forecast-tune)  # the quorum chosen on windows that are not the 24 pairs
            for q in 1 5; do
                dynamiccity eval-forecast --dit "$DIT" --vae synthtown --data data/synthtown64-eval --max-windows 16 \
                    --with-trajectory --votes 5 --quorum $q --json "$OUT/forecast-tune-votes5-quorum$q.json"
            done
            ;;
        forecast-votes)
            dynamiccity eval-forecast --dit "$DIT" --vae synthtown --data data/synthtown-heldout --max-windows 24 \
                --with-trajectory --votes 5 --quorum 5 --json "$OUT/forecast-trajectory-votes5-quorum5.json"
            ;;
        forecast)
            for how in "" --with-trajectory; do
                dynamiccity eval-forecast --dit "$DIT" --vae synthtown --data data/synthtown-heldout \
                    --max-windows 24 $how --json "$OUT/forecast${how:+-trajectory}.json"
            done
            ;;
        *) echo "unknown part $part" >&2; exit 2 ;;
    esac
done
say done
