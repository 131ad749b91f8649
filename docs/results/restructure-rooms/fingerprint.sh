#!/usr/bin/env bash
# Behaviour fingerprint for a restructuring (issue 38): every pipeline stage on micro models and the shipped
# ones, with fixed seeds; outputs under $1. Compare two runs with fingerprint_hash.py.
set -euo pipefail
O=$1; mkdir -p $O; cd $O
export OMP_NUM_THREADS=1 PYTHONHASHSEED=0
D=dynamiccity
TV="--set grid=[16,16,4] --set frames=4 --set ckpt_every=2 --set val_windows=2 --set weight_frames=8"
DS="--set ema=0.9 --set ckpt_every=2 --set eval_every=2 --set val_windows=2"
[ -e town ] || $D synth town --scenes 3 --frames 10 --grid 16 16 4 --seed 5 --val-fraction 0.34 > /dev/null
[ -e vae ] || $D train-vae --preset synthtown-micro --data town --format synthtown --out vae --steps 2 $TV > /dev/null 2>&1
[ -e eval_vae.json ] || $D eval-vae vae --data town --format synthtown --split all --ego-motion --json eval_vae.json --device cpu > /dev/null 2>&1
[ -e lat ] || $D encode vae --data town --format synthtown --out lat --device cpu > /dev/null 2>&1
[ -e latw ] || $D encode vae --data town --format synthtown --out latw --coordinates world --device cpu > /dev/null 2>&1
[ -e dit ] || $D train-dit --preset synthtown-micro --latents lat --out dit --steps 2 $DS > /dev/null 2>&1
[ -e ditw ] || $D train-dit --preset synthtown-micro --latents latw --out ditw --steps 2 $DS > /dev/null 2>&1
S="--device cpu --sampler dpmpp --steps 4 --seed 3 --no-gifs"
[ -e s_uncond ] || $D sample --dit dit --vae vae --num 2 --out s_uncond $S > /dev/null 2>&1
[ -e s_left ] || $D sample --dit dit --vae vae --num 2 --out s_left --command left --cfg-scale 2 $S > /dev/null 2>&1
[ -e s_extend ] || $D sample --dit dit --vae vae --num 1 --out s_extend --extend 8 $S > /dev/null 2>&1
[ -e s_layout ] || $D sample --dit dit --vae vae --num 1 --out s_layout --data town --format synthtown --layout-from scene_0000 --layout-steer 0.03 $S > /dev/null 2>&1
[ -e s_inpaint ] || $D sample --dit dit --vae vae --num 1 --out s_inpaint --data town --format synthtown --inpaint scene_0000 --mask 4:12,4:12 $S > /dev/null 2>&1
[ -e s_outpaint ] || $D sample --dit dit --vae vae --num 1 --out s_outpaint --data town --format synthtown --outpaint scene_0000 --direction +x --times 1 $S > /dev/null 2>&1
[ -e w_left ] || $D sample --dit ditw --vae vae --num 2 --out w_left --command forward $S > /dev/null 2>&1
[ -e w_grow ] || $D sample --dit ditw --vae vae --num 1 --out w_grow --data town --format synthtown --condition-scene scene_0000 --extend 8 $S > /dev/null 2>&1
[ -e w_inpaint ] || $D sample --dit ditw --vae vae --num 1 --out w_inpaint --data town --format synthtown --inpaint scene_0000 --mask 4:12,4:12 --context-steer 0.03 $S > /dev/null 2>&1
[ -e city ] || $D city --dit dit --vae vae --data town --format synthtown --condition-scene scene_0000 --out city --size 32 16 --frames 8 $S > /dev/null 2>&1
[ -e fc.json ] || $D eval-forecast --dit dit --vae vae --data town --format synthtown --max-windows 2 --json fc.json --device cpu --sampler dpmpp --steps 4 --seed 3 > /dev/null 2>&1
[ -e fcw.json ] || $D eval-forecast --dit ditw --vae vae --data town --format synthtown --max-windows 2 --with-trajectory --votes 2 --json fcw.json --device cpu --sampler dpmpp --steps 4 --seed 3 > /dev/null 2>&1
[ -e evaldit.json ] || $D eval-dit dit --windows 2 --repeats 1 --json evaldit.json --device cpu > /dev/null 2>&1
[ -e shipped_right ] || $D sample --dit synthtown --vae synthtown --num 2 --out shipped_right --command right --cfg-scale 2 $S > /dev/null 2>&1
echo done
