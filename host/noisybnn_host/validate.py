"""Command line for the board: accuracy and throughput of a bitstream under noise.

    sudo -E python3 -m noisybnn_host --bitfile tfc-w1a1.bit --images test_images.npy \\
        --labels test_labels.npy --eps 0.01 --seed 1

Prints one line per figure; with --json also writes them to a file. Errors (no PYNQ, no
device, a manifest that does not match) print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from noisybnn_host._hwref import injector as hw
from noisybnn_host.errors import BoardUnavailableError, ManifestError


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m noisybnn_host",
        description="Run a noisybnn bitstream on the board: accuracy under injected noise.",
    )
    ap.add_argument("--bitfile", required=True, help=".bit (with .hwh beside it) or .xclbin")
    ap.add_argument("--manifest", help="manifest.json (default: next to the bitfile)")
    ap.add_argument("--images", required=True,
                    help=".npy of uint8 images, shape (N, 28, 28) or (N, 784)")
    ap.add_argument("--labels", help=".npy of integer labels (N,): prints the accuracy")
    ap.add_argument("--eps", type=float, default=0.0,
                    help="flip probability per neuron output bit, in [0, 1] (default 0)")
    ap.add_argument("--mode", default="flip", choices=[m.name.lower() for m in hw.Mode])
    ap.add_argument("--seed", type=int, default=1, help="master seed of the run (default 1)")
    ap.add_argument("--layers", help="comma-separated hidden layers to inject (default: all)")
    ap.add_argument("--batch-size", type=int, default=1000, help="images per DMA transfer")
    ap.add_argument("--limit", type=int, help="use only the first N images")
    ap.add_argument("--repeat", type=int, default=2,
                    help="run the set this many times and check the outputs are identical")
    ap.add_argument("--no-throughput", action="store_true", help="skip the throughput test")
    ap.add_argument("--json", help="also write the results to this file")
    return ap


def run(args: argparse.Namespace) -> dict:
    from noisybnn_host.overlay import NoisyBNNOverlay

    images = np.load(args.images)
    labels = np.load(args.labels) if args.labels else None
    if args.limit is not None:
        images = images[: args.limit]
        labels = None if labels is None else labels[: args.limit]
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    layers = None
    if args.layers:
        layers = tuple(int(s) for s in args.layers.split(",") if s.strip())
    setting = SimpleNamespace(mode=args.mode, p=hw.check_probability(args.eps, "--eps"),
                              seed=args.seed, layers=layers, fault_masks={})
    acc = NoisyBNNOverlay(args.bitfile, args.manifest, batch_size=args.batch_size)
    m = acc.manifest
    res: dict = {"model": m.model_name, "board": m.board, "platform": m.platform,
                 "images": int(len(images)), "mode": args.mode, "eps": args.eps,
                 "seed": args.seed, "layers": layers}
    configs = acc.configure_noise(setting)
    res["threshold"] = configs[0].threshold if configs else None
    first = acc.execute(images)
    res["flip_counts"] = acc.flip_counts() if m.injectors else []
    beats = [c.beats for c in acc.counters()] if m.injectors else []
    res["beats"] = beats
    res["beats_expected"] = [len(images) * inj.neurons // inj.pe for inj in m.injectors]
    identical = True
    for _ in range(max(args.repeat, 1) - 1):
        identical &= bool(np.array_equal(acc.execute(images), first))
    res["repeatable"] = identical
    pred = np.argmax(first, axis=1)  # ties go to the lowest index, as the label select
    if labels is not None:
        correct = int((pred == np.asarray(labels).reshape(-1)).sum())
        res["correct"] = correct
        res["accuracy"] = 100.0 * correct / max(len(images), 1)
    if not args.no_throughput:
        res["throughput"] = acc.throughput_test()
    acc.close()
    return res


def report(res: dict, out=None) -> None:
    out = out or sys.stdout
    print(f"model {res['model']} on {res['board']} ({res['platform']}), {res['images']} images",
          file=out)
    print(f"noise: mode={res['mode']} eps={res['eps']} seed={res['seed']} "
          f"layers={'all' if res['layers'] is None else list(res['layers'])} "
          f"threshold={res['threshold']}", file=out)
    if "accuracy" in res:
        print(f"accuracy: {res['accuracy']:.2f} % ({res['correct']}/{res['images']})", file=out)
    print(f"bits flipped per injector: {res['flip_counts']}", file=out)
    ok = res["beats"] == res["beats_expected"]
    print(f"beats per injector: {res['beats']} "
          f"({'as expected' if ok else 'EXPECTED ' + str(res['beats_expected'])})", file=out)
    print(f"repeatable (same seed, same outputs): {res['repeatable']}", file=out)
    tp = res.get("throughput")
    if tp:
        print(f"throughput: {tp['throughput[images/s]']:.0f} images/s, "
              f"{tp['runtime[ms]']:.3f} ms per batch of {tp['batch_size']}, "
              f"DMA in {tp['DRAM_in_bandwidth[MB/s]']:.1f} MB/s, "
              f"out {tp['DRAM_out_bandwidth[MB/s]']:.1f} MB/s", file=out)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        res = run(args)
    except (BoardUnavailableError, ManifestError, FileNotFoundError, ValueError,
            TimeoutError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report(res)
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2, default=str) + "\n")
    if not res["repeatable"] or res["beats"] != res["beats_expected"]:
        return 1
    return 0
