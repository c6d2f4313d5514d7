"""The schemas of the experiments' tables: the sweep's, the exploration's, the depth-width one.

The one place their column names are defined; the runners write them and `report` reads them
from here.
"""

from __future__ import annotations

from noisybnn.experiments.errors import ExploreError, SweepError
from noisybnn.experiments.table import HEX, TIMESTAMP, Schema
from noisybnn.tablecheck import check_result_row

_PROVENANCE = {"key": HEX, "timestamp": TIMESTAMP}

#: One row per sweep point (model, backend, data, seed, mode, layers, eps or k).
SWEEP = Schema(
    kind="a results table of this noisybnn version",
    columns=(
        "key",              # hash of the point's parameters (grid.point_key)
        "model",            # model name (manifest "model")
        "model_sha256",     # SHA-256 of the checkpoint (manifest checkpoint_sha256)
        "build_sha256",     # SHA-256 of the executable twin (sim) or of the bitfile (pynq)
        "backend",          # sim | pynq
        "dataset",
        "split",
        "n_images",         # the first n images of the split
        "seed",             # master seed
        "mode",             # off | flip | stuck0 | stuck1
        "eps",              # flip probability asked (flip mode; empty otherwise)
        "threshold",        # injector threshold register, p realised = threshold / 65536 (flip)
        "layers",           # active injectors: all | none | 0;2
        "faults_per_layer", # k crashed neurons per active layer (stuck modes; empty otherwise)
        "fault_spec",       # the crashed neurons, "layer:i j k|layer:..." (stuck modes)
        "accuracy",         # n_correct / n_images, in [0, 1]
        "n_correct",
        "flips_per_layer",  # bits changed by each injector, "f0;f1;f2" (the hardware counters)
        "flips_total",
        "seconds",          # time of execute() for the point
        "images_per_s",
        "worker",           # host:pid that ran the point
        "git_commit",       # commit of the noisybnn checkout (+dirty), or "unknown"
        "timestamp",        # UTC, when the point finished
    ),
    volatile=("seconds", "images_per_s", "worker", "git_commit", "timestamp"),
    text=("key", "model", "model_sha256", "build_sha256", "backend", "dataset", "split", "mode",
          "layers", "fault_spec", "flips_per_layer", "worker", "git_commit", "timestamp"),
    ints=("n_images", "seed", "n_correct", "flips_total"),
    patterns={**_PROVENANCE, "model_sha256": HEX, "build_sha256": HEX,
              "flips_per_layer": r"\d+(;\d+)*"},
    error=SweepError,
    writer="sweep",
    row_check=check_result_row,
)

#: One row per explored design point (see experiments.explore).
EXPLORE = Schema(
    kind="a table of this kind and version",
    columns=(
        "key",                  # hash of everything that fixes the row (point, recipe, evaluation)
        "name",                 # point name: model name + folding target
        "model",                # trained model name (shared by points that differ in folding/board)
        "width", "depth", "weight_bits", "act_bits", "eps_train", "target_fps", "board",
        "dataset", "epochs", "train_limit", "train_seed",
        "lut", "ff", "bram_18k", "dsp",  # FINN estimates, whole accelerator (ff: empty, see docs)
        "lut_util",             # LUT / LUT available on the board
        "fps",                  # FINN's estimated throughput
        "fits",                 # LUT, BRAM and DSP within the board's
        "injector_lut", "injector_ff", "injector_lut_share",
        "eps", "seeds", "n_images",
        "accuracy_clean",       # on the sim, injectors off, in [0, 1]
        "accuracy_under_noise", # on the sim, flip at eps on every injector, mean over seeds
        "accuracy_std",         # sample standard deviation over seeds (0 for one seed)
        "accuracy_torch",       # the trainer's own test accuracy after the last epoch (all images)
        "neurons",              # hidden neurons in total (width * depth)
        "noisy_bits",           # neurons * act_bits: the noisy binary units the theory counts
        "label_entropy",        # H(Y) of the evaluated labels in bits (the theory's input)
        "theory_target",        # accuracy for which theory_min_neurons is computed
        "theory_min_neurons",   # theory.min_total_neurons(depth, eps, theory_target, C, H)
        "below_theory_min",     # noisy_bits < theory_min_neurons (must never be true)
        "theory_ceiling",       # theory.accuracy_ceiling(widths * act_bits, eps, C, H)
        "code_sha256",          # fingerprint.code_sha256() of the run (in key)
        "weights_sha256",       # SHA-256 of the trained weights (state dict), reproducible
        "twin_sha256",          # SHA-256 of the executable twin with canonical tensor names
        "checkpoint_sha256",    # SHA-256 of the checkpoint file (it records wall times)
        "build_sha256",         # SHA-256 of dataflow_python.onnx (its tensor names are random)
        "train_seconds", "build_seconds", "eval_seconds",
        "seconds",              # wall time of the point in this run (train and build if not cached)
        "worker", "git_commit", "timestamp",
    ),
    volatile=("checkpoint_sha256", "build_sha256", "train_seconds", "build_seconds",
              "eval_seconds", "seconds", "worker", "git_commit", "timestamp"),
    text=("key", "name", "model", "board", "dataset", "seeds", "code_sha256", "weights_sha256",
          "twin_sha256", "checkpoint_sha256", "build_sha256", "worker", "git_commit", "timestamp"),
    ints=("width", "depth", "weight_bits", "act_bits", "target_fps", "epochs", "train_limit",
          "train_seed", "n_images", "neurons", "noisy_bits"),
    bools=("fits", "below_theory_min"),
    patterns={**_PROVENANCE, "code_sha256": HEX, "weights_sha256": HEX, "twin_sha256": HEX,
              "checkpoint_sha256": HEX, "build_sha256": HEX, "seeds": r"\d+(;\d+)*"},
    error=ExploreError,
    writer="exploration",
)

#: One row per model and eps of the depth-width experiment.
DEPTH_WIDTH = Schema(
    kind="a table of this kind and version",
    columns=(
        "key", "model", "width", "depth", "weight_bits", "act_bits", "eps_train", "dataset",
        "epochs", "train_limit", "train_seed", "board", "target_fps",
        "eps", "seeds", "n_images",
        "accuracy",          # mean over seeds, flip at eps on every injector, in [0, 1]
        "accuracy_std",      # sample standard deviation over seeds
        "accuracy_min",      # worst seed
        "accuracy_clean",    # injectors off
        "accuracy_torch",    # the trainer's test accuracy after the last epoch
        "neurons",           # width * depth
        "label_entropy",     # H(Y) of the evaluated labels, bits (measure.label_entropy)
        "theory_ceiling",    # theory.uniform_accuracy_ceiling(width, depth, eps, C, H)
        "above_ceiling",     # accuracy > ceiling + 3 standard errors of the test sample (a bug)
        "code_sha256", "weights_sha256", "twin_sha256",
        "seconds", "worker", "git_commit", "timestamp",
    ),
    volatile=("seconds", "worker", "git_commit", "timestamp"),
    text=("key", "model", "board", "dataset", "seeds", "code_sha256", "weights_sha256",
          "twin_sha256", "worker", "git_commit", "timestamp"),
    ints=("width", "depth", "weight_bits", "act_bits", "epochs", "train_limit", "train_seed",
          "target_fps", "n_images", "neurons"),
    bools=("above_ceiling",),
    patterns={**_PROVENANCE, "code_sha256": HEX, "weights_sha256": HEX, "twin_sha256": HEX,
              "seeds": r"\d+(;\d+)*"},
    error=ExploreError,
    writer="depth-width run",
)
