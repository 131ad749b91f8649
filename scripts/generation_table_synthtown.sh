#!/usr/bin/env bash
# The SynthTown generation table of docs/evaluation.md: the reference points (floor, the VAE's
# reconstructions, broken generators) and every sampler of an epsilon and a v-prediction DiT, all scored
# on N windows of 8 frames against SUBSETS disjoint subsets of N real windows (mean and std: the noise at N).
#
#   VAE=runs/vae DITS="runs/dit-eps runs/dit-v" EVALUATOR=runs/evaluator-synthtown \
#       bash scripts/generation_table_synthtown.sh runs/gen-table
#
# The real reference set (seed 99) and the held-out real windows (seed 100) share no seed with the models'
# data (2026) or the evaluator's (7). Scores already in OUT_DIR are kept, so a second call adds what is
# missing; VAE= (empty) scores the reference points only.
set -euo pipefail
OUT=${1:?usage: generation_table_synthtown.sh OUT_DIR}
N=${N:-32}
SUBSETS=${SUBSETS:-6}
DDPM_N=${DDPM_N:-$N}
VAE=${VAE-runs/vae}
DITS=${DITS-runs/dit-eps runs/dit-v}
EVALUATOR=${EVALUATOR:-synthtown}
REAL=${REAL:-data/synthtown64-eval}
HELD=${HELD:-data/synthtown64-eval-heldout}
# Every model named is a run folder or a shipped model's name, checked before anything is made.
models=(evaluator "$EVALUATOR")
[ -z "$VAE" ] || models+=(vae "$VAE")
[ -z "$VAE" ] || for dit in $DITS; do models+=(dit "$dit"); done
python -c 'import sys
from dynamiccity.shipped import resolve
for kind, name in zip(sys.argv[1::2], sys.argv[2::2]):
    try:
        resolve(kind, name)
    except FileNotFoundError as error:
        sys.exit(f"error: {error}")' "${models[@]}"
mkdir -p "$OUT"
say() { echo "== $(date +%T) $*"; }

[ -d "$REAL" ] || dynamiccity synth "$REAL" --scenes $((SUBSETS * N / 2)) --frames 16 --grid 64 64 8 --seed 99
[ -d "$HELD" ] || dynamiccity synth "$HELD" --scenes $((N / 2)) --frames 16 --grid 64 64 8 --seed 100

score() {  # name fake-folder [eval-gen options]; a score already written is kept
    local name=$1 fake=$2
    shift 2
    [ -f "$OUT/$name.json" ] && return
    say "score $name"
    dynamiccity eval-gen --evaluator "$EVALUATOR" --real "$REAL" --fake "$fake" --subsets "$SUBSETS" \
        --json "$OUT/$name.json" "$@"
}

score floor "$HELD"
for kind in time_shuffled classes_permuted frames_mixed; do
    score "broken-$kind" "$HELD" --break "$kind"
done
[ -z "$VAE" ] && exit 0  # references only
[ -d "$OUT/recon" ] || { say reconstruct; dynamiccity reconstruct "$VAE" --data "$HELD" --format synthtown \
    --split all --max-windows "$N" --out "$OUT/recon" --no-gifs; }
score ceiling "$OUT/recon"

for dit in $DITS; do
    name=$(basename "$dit")
    for sampler in "ddpm 1000 $DDPM_N" "ddim 50 $N" "dpmpp 20 $N"; do
        read -r kind steps num <<< "$sampler"
        fake="$OUT/$name-$kind$steps"
        [ -f "$fake/sample.json" ] || { say "sample $fake"; dynamiccity sample --dit "$dit" --vae "$VAE" \
            --num "$num" --sampler "$kind" --steps "$steps" --batch 16 --seed 0 --out "$fake" --no-gifs; }
        score "$name-$kind$steps" "$fake"
    done
done
say done
