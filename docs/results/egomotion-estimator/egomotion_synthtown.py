"""Ego motion measured from occupancy against the poses of real SynthTown windows (8 frames): per-command
agreement of `window_command(estimate_trajectory(labels))` with the pose-derived command, ADE/FDE, time.

    dynamiccity synth data/egomotion40 --scenes 40 --frames 16 --grid 64 64 8 --seed 3 --val-fraction 0
    python docs/results/egomotion-estimator/egomotion_synthtown.py data/egomotion40
"""

import collections
import sys
import time

import numpy as np

from dynamiccity.data import Command, open_dataset
from dynamiccity.metrics.registration import estimate_trajectory
from dynamiccity.metrics.egomotion import trajectory_errors, window_command

root = sys.argv[1]
stride = int(sys.argv[2]) if len(sys.argv) > 2 else 1
ds = open_dataset(root, "synthtown", frames=8, stride=stride)
size = ds.grid.voxel_size[:2]
agree = collections.Counter()
total = collections.Counter()
rule_vs_gt = collections.Counter()
ades, fdes, times = collections.defaultdict(list), collections.defaultdict(list), []
rows, cpu = [], []
for i in range(len(ds)):
    w = ds[i]
    t0, c0 = time.perf_counter(), time.process_time()
    est = estimate_trajectory(w.labels, size)
    times.append(time.perf_counter() - t0)
    cpu.append(time.process_time() - c0)
    gt = Command(w.command)
    cmd = window_command(est)
    total[gt.name] += 1
    agree[gt.name] += cmd == gt
    rule_vs_gt[gt.name] += window_command(w.trajectory) == gt
    err = trajectory_errors(est, w.trajectory)
    ades[gt.name].append(err["ade"])
    fdes[gt.name].append(err["fde"])
    travel = np.linalg.norm(np.diff(est[:, :2], axis=0), axis=1).sum()
    rows.append(
        (
            gt.name,
            cmd.name,
            float(est[-1, 2]),
            float(w.trajectory[-1, 2]),
            travel,
            float(np.linalg.norm(w.trajectory[-1, :2])),
            err["fde"],
            ds.scenes[w.scene].meta["layout"],
            w.scene,
        )
    )
print(f"windows {len(ds)}  voxel {size}")
for name in ("STATIC", "FORWARD", "LEFT", "RIGHT"):
    if total[name]:
        print(
            f"{name:8s} n={total[name]:4d} agree={agree[name] / total[name]:.3f} "
            f"rule-on-truth={rule_vs_gt[name] / total[name]:.3f} "
            f"ADE mean={np.mean(ades[name]):.3f} median={np.median(ades[name]):.3f} "
            f"FDE mean={np.mean(fdes[name]):.3f} median={np.median(fdes[name]):.3f} max={np.max(fdes[name]):.2f}"
        )
all_ade = np.concatenate([ades[k] for k in ades])
all_fde = np.concatenate([fdes[k] for k in fdes])
print(
    f"ALL ADE mean={all_ade.mean():.3f} median={np.median(all_ade):.3f}  FDE mean={all_fde.mean():.3f} median={np.median(all_fde):.3f}"
)
print(
    f"seconds per window: wall mean={np.mean(times):.3f} max={np.max(times):.3f}; cpu mean={np.mean(cpu):.3f} max={np.max(cpu):.3f}"
)
for name in ("STATIC", "FORWARD", "LEFT", "RIGHT"):
    r = [x for x in rows if x[0] == name]
    if r:
        yaw = np.array([x[2] for x in r])
        trav = np.array([x[4] for x in r])
        print(
            f"{name:8s} est yaw [{yaw.min():+.3f}, {yaw.max():+.3f}]  est travel [{trav.min():.2f}, {trav.max():.2f}]"
        )
print("disagreements / large errors:")
for x in rows:
    if x[0] != x[1] or x[6] > 1.5:
        gt, est, est_yaw, true_yaw, travel, dist, fde, layout, scene = x
        print(
            f"  gt={gt} est={est} estyaw={est_yaw:+.3f} trueyaw={true_yaw:+.3f} esttravel={travel:.2f} "
            f"truedist={dist:.2f} fde={fde:.2f} {layout} scene={scene}"
        )
