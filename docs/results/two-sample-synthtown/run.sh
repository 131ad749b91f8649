#!/usr/bin/env bash
# Two-sample tests and generation metrics (issue 39) of: a second real set (the floor), the one-pass
# reconstructions of the shipped VAE and of the world-coordinate VAE, and the shipped DiT's samples, each
# against the real seed-4041 set, with the shipped evaluator. Outputs under $1.
#   bash docs/results/two-sample-synthtown/run.sh OUT WORLD_VAE_RUN
set -euo pipefail
O=$1; WORLD=$2; mkdir -p $O; cd $O
export OMP_NUM_THREADS=1
D=dynamiccity
REAL=/work/data/synthtown-heldout   # dynamiccity synth ... --scenes 24 --frames 16 --grid 64 64 8 --seed 4041 --val-fraction 0
[ -e real-4042 ] || $D synth real-4042 --scenes 24 --frames 16 --grid 64 64 8 --seed 4042 --val-fraction 0 > /dev/null
[ -e recon-shipped ] || $D reconstruct synthtown --data $REAL --format synthtown --split all --max-windows 48 --out recon-shipped --no-gifs --device cpu > /dev/null 2>&1
[ -e recon-world ] || $D reconstruct $WORLD --data $REAL --format synthtown --split all --max-windows 48 --out recon-world --no-gifs --device cpu > /dev/null 2>&1
[ -e samples-shipped ] || $D sample --dit synthtown --vae synthtown --num 48 --out samples-shipped --no-gifs --seed 0 --batch 8 --device cpu > /dev/null 2>&1
for fake in real-4042 recon-shipped recon-world samples-shipped; do
  [ -e $fake.json ] || $D eval-gen --evaluator synthtown --real $REAL --fake $fake --json $fake.json --device cpu > /dev/null 2>&1
done
echo done
