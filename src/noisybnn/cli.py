"""`noisybnn`: one command for the whole flow. Thin: it parses arguments and calls the library.

Every subcommand exits 0 on success; on a user error (a `noisybnn.errors.NoisyBNNError`: bad
argument, missing file or tool) it prints one line `noisybnn: error: ...` and exits 2. Any other
exception is a bug and keeps its traceback. One argparse tree holds every command.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

from noisybnn.cli_options import (
    add_bench_args,
    add_depth_width_args,
    add_explore_args,
    add_report_args,
    add_study_commands,
    add_sweep_args,
    add_theory_commands,
)
from noisybnn.errors import ConfigError, NoisyBNNError
from noisybnn.validation import OneLineParser, float_arg, int_arg, probability_arg

DESCRIPTION = """\
noisybnn: binarized neural networks on FPGAs with hardware noise injection.

The flow, one subcommand per stage (each reads the previous stage's files):
  data      fetch and verify MNIST / Fashion-MNIST into the local cache
  train     train a model (noise-aware with --eps-train); zoo: the shipped checkpoints
  eval      accuracy under neuron flips (Brevitas, on CPU)
  export    write a checkpoint as QONNX
  estimate  FINN dataflow graph with noise injectors -> resource / FPS estimates (no Vivado)
  build     the same up to the bitstream (needs Vivado or Vitis)
  deploy    copy the board bundle and bitstream to a PYNQ board
  sweep     accuracy vs eps / mode / layers / seeds on the accelerator (sim or pynq)
  bench     speed of the software accelerator vs FINN python execution vs Brevitas
  report    HTML report with plots: measurements beside the theoretical bounds
  explore   design-space exploration: accuracy under noise vs LUTs and FPS
  depth-width  least width per depth that keeps an accuracy under noise, vs the theory
  theory    the theory's figures: tightness, tradeoff, predict (docs/theory.md)
  study     the theory's studies on trained networks (docs/theory.md): narrow, mean-field,
            propagation, geometry, crashed
  demo      the full flow on the default (software) backend

Models: a shipped name (see `noisybnn zoo list`) or a checkpoint file (.pt).
Architectures for `train`: tfc|sfc|lfc|cnn|cnv-w1a1|w1a2|w2a2, or mlp-<width>x<depth>-w<b>a<b>.
"""


#: Kept for callers of the old name: a user error of the command line is a ConfigError.
UserError = ConfigError


def _quiet() -> None:
    warnings.filterwarnings("ignore")
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    import logging

    logging.getLogger("torch.onnx").setLevel(logging.ERROR)


# --- handlers ----------------------------------------------------------------------------------


def cmd_data(args) -> int:
    from noisybnn import data

    for name in args.datasets:
        path = data.ensure(name, args.cache_dir, refresh=args.refresh)
        print(f"{name}: ok ({path})")
    return 0


def cmd_train(args) -> int:
    from dataclasses import replace

    from noisybnn.models import from_name
    from noisybnn.train import TrainConfig, ship_checkpoint, train

    _check_outputs(files=[("--ship", args.ship)] if args.ship else [], dirs=[("--out", args.out)])
    spec = from_name(args.arch, eps_train=args.eps_train, dropout=args.dropout)
    if args.name:
        spec = replace(spec, name=args.name)
    cfg = TrainConfig(dataset=args.dataset, epochs=args.epochs, batch_size=args.batch_size,
                      lr=args.lr, seed=args.seed, shift=args.shift)
    out = Path(args.out) / spec.name
    metrics = train(spec, cfg, out, resume=args.resume, progress=not args.quiet)
    print(f"{spec.name}: test accuracy {metrics['final_test_acc']:.2f} % after "
          f"{len(metrics['history'])} epochs ({metrics['train_seconds']:.0f} s); checkpoint "
          f"{out / 'last.pt'}")
    if args.ship:
        dst = ship_checkpoint(out / "last.pt", args.ship)
        print(f"shipped as {dst}")
    return 0


def cmd_zoo(args) -> int:
    from noisybnn import zoo

    if args.action == "list":
        for name, recipe in zoo.RECIPES.items():
            path = zoo.checkpoint_path(name)
            card = path.with_suffix(".json")
            acc = ""
            if card.is_file():
                import json

                acc = f"{json.loads(card.read_text())['test_accuracy']:.2f} %"
            print(f"{name:22s} {recipe.cfg.dataset:14s} {acc:>8s}  "
                  f"{'shipped' if path.is_file() else 'missing'}")
        return 0
    for name in args.names:
        print(f"trained {zoo.train_recipe(name, args.work_dir, progress=not args.quiet)}")
    return 0


def _load_net(model: str):
    from noisybnn.train import load_checkpoint
    from noisybnn.zoo import resolve

    return load_checkpoint(resolve(model))


def cmd_eval(args) -> int:
    from noisybnn import data
    from noisybnn.evaluate import format_table, noise_table, parse_eps_list

    eps = parse_eps_list(args.eps)
    layers = _parse_layers(args.layers)
    from noisybnn.validation import check_grid_size

    check_grid_size(len(eps) * args.seeds, f"eval's grid ({len(eps)} eps x {args.seeds} seeds)")
    net, payload = _load_net(args.model)
    if layers is not None:
        from noisybnn.validation import check_noise_layers

        layers = check_noise_layers(layers, len(net.noise_layers), payload["spec"]["name"],
                                    "--layers")
    from noisybnn.train import checkpoint_dataset

    dataset = args.dataset or checkpoint_dataset(payload, args.model)
    x, y = data.load(dataset, "test")
    if args.n_images:
        from noisybnn.validation import check_int

        check_int(args.n_images, "--n-images", 0, len(x))  # the split's size, not silently fewer
        x, y = x[: args.n_images], y[: args.n_images]
    rows = noise_table(net, x, y, eps, args.seeds, args.source, layers)
    print(format_table(rows, f"{payload['spec']['name']} on {dataset} test ({len(x)} images), "
                             f"flips from {args.source}, layers {args.layers}"))
    return 0


def cmd_export(args) -> int:
    from noisybnn.export import export_qonnx
    from noisybnn.outputs import check_output_file

    if args.out is not None:
        check_output_file(args.out, "--out")  # before the (slow) load and export
    net, payload = _load_net(args.model)
    out = check_output_file(args.out or f"{payload['spec']['name']}.onnx", "--out")
    export_qonnx(net, out)
    print(f"wrote {out}")
    return 0


def _compile(args, estimates_only: bool) -> Path:
    from noisybnn.pipeline import compile_model

    return compile_model(args.model, board=args.board, target_fps=args.target_fps,
                         folding_file=args.folding, noise_layers=_parse_layers(args.noise_layers),
                         estimates_only=estimates_only, out_dir=args.out, force=args.force)


def cmd_estimate(args) -> int:
    import json

    from noisybnn.compile.paths import ESTIMATES
    from noisybnn.pipeline import format_estimates

    bdir = _compile(args, estimates_only=True)
    summary = json.loads((bdir / ESTIMATES).read_text())
    print(format_estimates(summary))
    if getattr(args, "yosys", False):  # measured column: our RTL of the build, through yosys
        from noisybnn.rtl.resources import format_side_by_side, measure_build

        print(format_side_by_side(summary, measure_build(bdir)))
    print(f"build directory: {bdir}")
    return 0


def cmd_build(args) -> int:
    from noisybnn.compile.finn_env import require_vivado
    from noisybnn.compile.targets import load_target

    if args.dry_run:
        from noisybnn.compile.dry_run import dry_run_command

        return dry_run_command(args.model, args.board, args.out)
    target = load_target(args.board)
    require_vivado(f"a bitstream for {args.board}",
                   vitis=target["shell_flow_type"] == "vitis_alveo")
    bdir = _compile(args, estimates_only=False)
    print(f"bitstream and host bundle in {bdir}")
    return 0


def cmd_board(args) -> int:
    from noisybnn.compile.addresses import format_slaves, read_hwh

    print(format_slaves(read_hwh(args.hwh)))
    return 0


def cmd_deploy(args) -> int:
    from noisybnn.backends import pynq as pynq_backend
    from noisybnn.pipeline import build_dir_for

    if not args.host:
        raise ConfigError("deploy needs the board's address: HOST=<address> (or --host)")
    bdir = Path(args.build_dir) if args.build_dir else build_dir_for(args.model, args.board)
    print(pynq_backend.deploy_build(bdir, args.host, user=args.user))
    return 0


def cmd_sweep(args) -> int:
    from noisybnn.experiments import cli_sweep

    return cli_sweep(args)


def cmd_bench(args) -> int:
    from noisybnn.experiments.bench import cli_bench

    _check_outputs(files=[("--out", args.out)])
    return cli_bench(args)


def cmd_report(args) -> int:
    from noisybnn.report import cli_report

    _check_outputs(dirs=[("--out", args.out)])
    return cli_report(args)


def cmd_explore(args) -> int:
    """Run (or resume) the exploration, print its summary, draw its Pareto plot."""
    import time

    from noisybnn.experiments.cache import DEFAULT_BUILD_DIR, DEFAULT_RUNS_DIR
    from noisybnn.experiments.explore import run_explore
    from noisybnn.report.design import format_summary, plot_explore

    _check_outputs(files=[("--out", args.out)],
                   dirs=[("--runs-dir", args.runs_dir), ("--build-dir", args.build_dir)])
    t0 = time.perf_counter()
    out = Path(args.out)
    df = run_explore(args.space, out, eps=args.eps, seeds=args.seeds,
                     n_images=args.n_images or None, board=args.board,
                     theory_target=args.theory_target, workers=args.workers,
                     scheduler=args.scheduler, runs_dir=args.runs_dir or DEFAULT_RUNS_DIR,
                     build_dir=args.build_dir or DEFAULT_BUILD_DIR, progress=not args.quiet)
    png = out.with_suffix(".png")
    if len(df):
        plot_explore(df, png)
    print(format_summary(df))
    print(f"table: {out}  plot: {png}  ({len(df)} points, {time.perf_counter() - t0:.1f} s)")
    return 0


def cmd_depth_width(args) -> int:
    """Run (or resume), print the minimal widths and any violation, draw the plot."""
    import time

    from noisybnn.experiments import depth_width as dw
    from noisybnn.report.depth_width import format_min_width, plot_depth_width

    t0 = time.perf_counter()
    res = dw.run_depth_width(args.out, args.widths or dw.DEFAULT_WIDTHS,
                             args.depths or dw.DEFAULT_DEPTHS, args.eps or dw.DEFAULT_EPS,
                             args.targets or dw.DEFAULT_TARGETS, args.seeds,
                             args.n_images or None, eps_train=args.eps_train,
                             workers=args.workers, scheduler=args.scheduler,
                             progress=not args.quiet)
    png = plot_depth_width(res.table, res.min_width, Path(args.out) / "depth_width.png")
    print(format_min_width(res.min_width))
    print("violations of the theory: " + ("none" if not res.violations else
                                          "\n  " + "\n  ".join(res.violations)))
    print(f"table: {res.csv}  minimal widths: {res.min_width_csv}  plot: {png}  "
          f"({len(res.table)} rows, {time.perf_counter() - t0:.0f} s)")
    return 1 if res.violations else 0


def cmd_theory(args) -> int:
    from noisybnn.theory.commands import HANDLERS

    return HANDLERS[args.theory_func](args)


#: `noisybnn study NAME` -> the module of noisybnn.experiments whose `run_cli(args)` runs it.
STUDY_MODULES = {"narrow": "narrow", "mean-field": "mean_field", "propagation": "propagation",
                 "geometry": "geometry", "crashed": "crashed"}


def cmd_study(args) -> int:
    import importlib

    module = importlib.import_module(f"noisybnn.experiments.{STUDY_MODULES[args.study_command]}")
    return module.run_cli(args)


def cmd_demo(args) -> int:
    from noisybnn.demo import run_demo

    _check_outputs(dirs=[("--out", args.out)])
    return run_demo(args)


def _check_outputs(files=(), dirs=()) -> None:
    """Refuse outputs that cannot be written (a directory for a file, under a file, read-only)
    before the command does any work (noisybnn.outputs)."""
    from noisybnn.outputs import check_output_dir, check_output_file

    for flag, path in files:
        check_output_file(path, flag)
    for flag, path in dirs:
        check_output_dir(path, flag)


def _parse_layers(text: str | None) -> list[int] | None:
    if text is None or text in ("all", ""):
        return None
    if text == "none":
        return []
    try:
        return [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise ConfigError(f"layers must be 'all', 'none' or indices like 0,2; got {text!r}") from None


# --- parser ------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="noisybnn", description=DESCRIPTION,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    s = sub.add_parser("data", help="fetch and verify data sets")
    s.add_argument("datasets", nargs="*", default=["mnist", "fashion-mnist"])
    s.add_argument("--cache-dir", default=None, help="default: $NOISYBNN_DATA or ~/.cache/noisybnn")
    s.add_argument("--refresh", action="store_true", help="fetch again even if cached")
    s.set_defaults(func=cmd_data)

    s = sub.add_parser("train", help="train a model")
    s.add_argument("arch", help="tfc-w1a1, sfc-w1a1, lfc-w1a1, cnn-w1a1, mlp-256x3-w1a1, ...")
    s.add_argument("--dataset", default="mnist", choices=["mnist", "fashion-mnist"])
    s.add_argument("--epochs", type=int_arg(1, 100_000), default=10)
    s.add_argument("--batch-size", type=int_arg(1, 1_000_000), default=100)
    s.add_argument("--lr", type=float_arg(0.0, 10.0, lo_open=True), default=0.02)
    s.add_argument("--eps-train", type=probability_arg(hi_open=True), default=0.0,
                   help="flip probability of each hidden neuron while training (noise-aware)")
    s.add_argument("--dropout", type=probability_arg(hi_open=True), default=0.0)
    s.add_argument("--shift", type=int, default=0,
                   help="augment: move each training image by up to N pixels (LFC recipe: 2)")
    s.add_argument("--seed", type=int_arg(0, 2**63 - 1), default=0)
    s.add_argument("--name", default=None, help="name of the run (default: from the architecture)")
    s.add_argument("--out", default="runs", help="runs directory (checkpoint per epoch)")
    s.add_argument("--resume", action="store_true", help="continue from <out>/<name>/last.pt")
    s.add_argument("--ship", default=None, help="also write a slim checkpoint to this path")
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=cmd_train)

    s = sub.add_parser("zoo", help="the shipped checkpoints: list, or re-make from their recipes")
    s.add_argument("action", choices=["list", "train"])
    s.add_argument("names", nargs="*")
    s.add_argument("--work-dir", default="runs")
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=cmd_zoo)

    s = sub.add_parser("eval", help="accuracy under neuron flips, mean and spread over seeds")
    s.add_argument("--model", required=True)
    s.add_argument("--eps", default="0,0.01,0.05,0.1", help="comma-separated flip probabilities")
    s.add_argument("--seeds", type=int_arg(1, 100_000), default=3)
    s.add_argument("--source", choices=["torch", "injector"], default="injector",
                   help="flips from the hardware LFSR stream (injector) or torch's RNG")
    s.add_argument("--layers", default="all", help="hidden layers to make noisy: all or 0,2")
    s.add_argument("--dataset", default=None)
    s.add_argument("--n-images", type=int_arg(0), default=0, help="first N test images (0: all)")
    s.set_defaults(func=cmd_eval)

    s = sub.add_parser("export", help="write a checkpoint as QONNX")
    s.add_argument("--model", required=True)
    s.add_argument("--out", default=None)
    s.set_defaults(func=cmd_export)

    for name, func, text in (("estimate", cmd_estimate, "FINN estimates (no Vivado needed)"),
                             ("build", cmd_build, "full FINN build to bitstream (needs Vivado)")):
        s = sub.add_parser(name, help=text)
        s.add_argument("--model", required=True)
        s.add_argument("--board", default="pynq-z2")
        s.add_argument("--target-fps", type=int_arg(1, 10**10), default=100_000)
        s.add_argument("--folding", default=None, help="FINN folding JSON instead of target FPS")
        s.add_argument("--noise-layers", default="all", help="injectors after: all, none, or 0,2")
        s.add_argument("--out", default=None, help="build dir (default bitstreams/<board>/<model>)")
        s.add_argument("--force", action="store_true", help="rebuild even if up to date")
        if name == "estimate":
            s.add_argument("--yosys", action="store_true",
                           help="also synthesize the RTL accelerator with yosys (minutes; w1a1)")
        s.set_defaults(func=func)
    s.add_argument("--dry-run", action="store_true", help="stand-in Vivado runs every script")
    s = sub.add_parser("board", help="board helpers: `board addresses FILE.hwh`")
    s.add_argument("what", choices=["addresses"])
    s.add_argument("hwh")
    s.set_defaults(func=cmd_board)

    s = sub.add_parser("deploy", help="copy bundle + bitstream to a board")
    s.add_argument("--model", default="tfc-w1a1")
    s.add_argument("--board", default="pynq-z2")
    s.add_argument("--build-dir", default=None)
    s.add_argument("--host", default=os.environ.get("HOST", ""))
    s.add_argument("--user", default="xilinx")
    s.set_defaults(func=cmd_deploy)

    add_sweep_args(sub.add_parser("sweep", help="accuracy vs eps/mode/layers/seeds on a backend"))
    sub.choices["sweep"].set_defaults(func=cmd_sweep)
    add_bench_args(sub.add_parser("bench", help="sim vs FINN python vs Brevitas speed"))
    sub.choices["bench"].set_defaults(func=cmd_bench)
    add_report_args(sub.add_parser("report", help="HTML report from sweep results"))
    sub.choices["report"].set_defaults(func=cmd_report)
    add_explore_args(sub.add_parser("explore", help="design-space exploration with Pareto plot"))
    sub.choices["explore"].set_defaults(func=cmd_explore)
    add_depth_width_args(sub.add_parser("depth-width", help="least width per depth vs the theory"))
    sub.choices["depth-width"].set_defaults(func=cmd_depth_width)
    s = sub.add_parser("theory", help="the theory's figures (docs/theory.md)")
    s.set_defaults(func=cmd_theory)
    add_theory_commands(s)
    s = sub.add_parser("study", help="the theory's studies on trained networks (docs/theory.md)",
                       description="Experiments that set trained networks beside the theory "
                       "(docs/theory.md §5-8). Each takes minutes to hours; `noisybnn study NAME "
                       "--help` gives its options. `python -m noisybnn.experiments.NAME` is the "
                       "same command.")
    s.set_defaults(func=cmd_study)
    add_study_commands(s)

    s = sub.add_parser("demo", help="the full flow on the software backend")
    s.add_argument("--out", default="results/demo")
    s.add_argument("--quick", action="store_true", help="fewer images and seeds")
    s.set_defaults(func=cmd_demo)
    return p


#: OS errors about a path the user named (a file that is not there, a path through a file, no
#: permission): user errors too, shown as one line.
INPUT_OS_ERRORS = (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError)


def _user_errors() -> tuple[type[BaseException], ...]:
    """NoisyBNNError, OS errors on named paths, and the board bundle's own user errors
    (noisybnn_host runs on the board without noisybnn, so its errors cannot derive from ours)."""
    try:
        from noisybnn_host.errors import BoardUnavailableError, ManifestError
    except ImportError:
        return (NoisyBNNError, *INPUT_OS_ERRORS)
    return (NoisyBNNError, *INPUT_OS_ERRORS, BoardUnavailableError, ManifestError)


def run_reporting_errors(prog: str, fn, *args) -> int:
    """Run `fn(*args)` as a command: its return code, or a one-line `prog: error: ...` and 2 for
    a user error (what the user gave or lacks), 130 on Ctrl-C. Anything else is a bug and keeps
    its traceback. Also used by the bench/ scripts."""
    try:
        return int(fn(*args) or 0)
    except _user_errors() as exc:
        msg = " ".join(str(exc).split()) or type(exc).__name__
        print(f"{prog}: error: {msg}", file=sys.stderr)
        return 2
    except OSError as exc:  # an output the OS refused (full disk, read-only, a directory)
        import errno

        if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EISDIR, errno.EACCES):
            raise
        from noisybnn.outputs import output_error

        print(f"{prog}: error: {output_error(exc.filename or '', exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


def main(argv: list[str] | None = None) -> int:
    _quiet()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # a usage error (one line, 2) or --help (0): a code, as commands
        return exc.code if isinstance(exc.code, int) else 2
    return run_reporting_errors("noisybnn", args.func, args)


if __name__ == "__main__":
    sys.exit(main())
