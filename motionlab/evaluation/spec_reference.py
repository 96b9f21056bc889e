"""The figures reported in ../shared/spec/motion_diffusion_experiments.md, for side-by-side display.

These are the spec's numbers, not ours; our numbers are always computed.
"""
from __future__ import annotations

SPEC_BASELINES = {
    (64, 32, 32): {"coord_range": 245.10, "pos_std": 40.87, "vel_std": 7.32, "vel_energy": 64.28,
                   "com_speed": 5.31, "diversity": 60.17, "clips": 26},
    (256, 5, 1024): {"coord_range": 245.10, "pos_std": 41.74, "vel_std": 7.32, "vel_energy": 65.03,
                     "com_speed": 5.50, "diversity": 57.95, "clips": 128},
}

# tag -> (window, stride, limit, epochs), metrics
SPEC_RUNS = {
    "baseline_1epoch": ((64, 32, 32, 1), {"coord_range": 2599.05, "pos_std": 436.14, "vel_std": 617.15,
                                          "vel_energy": 424483.91, "com_speed": 188.58, "diversity": 650.00}),
    "earlystop_500": ((256, 5, 1024, 500), {"coord_range": 181.80, "pos_std": 22.39, "vel_std": 5.30,
                                            "vel_energy": 33.58, "com_speed": 2.96, "diversity": 34.78}),
    "long_1000": ((256, 5, 1024, 1000), {"coord_range": 182.34, "pos_std": 26.02, "vel_std": 5.84,
                                         "vel_energy": 41.21, "com_speed": 3.45, "diversity": 39.11}),
    "long_10000": ((256, 5, 1024, 10000), {"coord_range": 192.45, "pos_std": 28.22, "vel_std": 5.24,
                                           "vel_energy": 34.30, "com_speed": 3.58, "diversity": 42.36}),
}



def spec_run(tag: str) -> tuple[int, dict, dict] | None:
    """(epochs, metrics, the baseline of its training config) for one of the spec's runs, else None."""
    if tag not in SPEC_RUNS:
        return None
    (w, s, l, epochs), metrics = SPEC_RUNS[tag]
    return epochs, metrics, SPEC_BASELINES[(w, s, l)]


# The checkpoint column of the spec's table.
SPEC_CHECKPOINTS = {"baseline_1epoch": "checkpoints/ddpm_epoch_1.pth", "earlystop_500": "checkpoints/ddpm_epoch_500.pth",
                    "long_1000": "checkpoints/1000/ddpm_best.pth", "long_10000": "checkpoints/10000/ddpm_best.pth"}
