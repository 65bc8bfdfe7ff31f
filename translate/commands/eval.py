"""``translate eval --ckpt CKPT [DATASET]``: FID/KID, content preservation and mode figures for a checkpoint.

Translates the split's A images with the checkpoint (G_ema when present) and compares them with its B
images. Writes ``metrics.json``, ``metrics.md`` and ``pairs.png`` into ``--out`` and prints the table.
"""
from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

from translate.errors import TranslateError

log = logging.getLogger(__name__)


def add_parser(sub) -> None:
    from translate.config import Features, choices
    from translate.metrics.registry import ALL_METRICS

    p = sub.add_parser("eval", help="evaluate a checkpoint: FID/KID, content preservation, modes",
                       description="Translate the test A images and compare them with test B. FID/KID use "
                                   "Inception (clean-fid) by default; --features tiny works offline but its "
                                   "figures are not comparable with published FID.")
    p.add_argument("dataset", nargs="?", metavar="DATASET",
                   help="demo, a dataset name or a dataset folder (default: the checkpoint's own dataset)")
    p.add_argument("--ckpt", required=True, help="checkpoint file (RUN/ckpt/latest.pt, best_kid.pt ...), run folder, "
                                                 "or 'demo' (the bundled demo model)")
    p.add_argument("--split", default="test", help="split to evaluate: SPLITA/ vs SPLITB/ (default: test)")
    p.add_argument("--metrics", help=f"comma-separated subset of {','.join(ALL_METRICS)} (default: all; lpips is "
                                     "skipped with a warning when its weights are missing unless named here)")
    p.add_argument("--features", default="inception", choices=sorted(choices(Features)),
                   help="feature extractor for FID/KID (default: inception; tiny = offline, labelled)")
    p.add_argument("--out", help="output folder (default: RUN/eval/<checkpoint>_<split>_<features>)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--batch-size", type=int, default=16, help="images per forward pass")
    p.add_argument("--max-images", type=int, default=0, help="evaluate only the first N A images (0 = all)")
    p.add_argument("--image-size", type=int, default=0, help="side images are resized to (0 = the first A image's width)")
    p.add_argument("--grid", type=int, default=8, help="input/output pairs in pairs.png")
    p.add_argument("--no-ema", action="store_true", help="use G rather than G_ema when both are saved")
    p.set_defaults(run=run)


def _parse_metrics(text: str | None) -> tuple[list[str], list[str]]:
    """(metrics, lenient): by default everything, with lpips skipped rather than failing when offline."""
    from translate.metrics.registry import ALL_METRICS

    if not text:
        return list(ALL_METRICS), ["lpips"]
    names = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in names if m not in ALL_METRICS]
    if unknown or not names:
        raise TranslateError(f"--metrics: unknown metric(s) {', '.join(unknown) or '(none given)'} "
                             f"(expected a comma-separated subset of {','.join(ALL_METRICS)})")
    return names, []


def _dataset_root(cfg, dataset: str | None) -> Path:
    from translate.datasets.sources import resolve_source

    if dataset:  # the user's DATASET replaces the checkpoint's own data source
        data = dataclasses.replace(cfg.data, root="", domain_a="", domain_b="")
        cfg = dataclasses.replace(cfg, dataset=dataset, data=data)
    cfg = resolve_source(cfg)
    if not cfg.data.root:
        raise TranslateError("the checkpoint was trained on two domain folders, which have no test split: "
                             "give DATASET, a folder with testA/ and testB/")
    return Path(cfg.data.root)


def _default_out(ckpt: Path, split: str, features: str) -> Path:
    from translate.runfolder.bundled import is_bundled
    from translate.runfolder.layout import RunFolder, checkpoint_file, run_of

    if is_bundled(ckpt):  # never write into the installed package
        return RunFolder(Path("runs") / "bundled_demo").eval_dir(ckpt.stem, split, features)
    return run_of(ckpt).eval_dir(checkpoint_file(ckpt).stem, split, features)


def run(args) -> int:
    from translate.runfolder.schema import checkpoint_config, load_checkpoint
    from translate.runfolder.bundled import resolve_checkpoint
    from translate.runfolder.translator import load_translator
    from translate.engine.device import resolve_device
    from translate.metrics.evaluate import Evaluator
    from translate.atomic import write_text
    from translate.metrics.summary import markdown_table, pair_grid, write_json
    from translate.runfolder.prepare import check_writable

    if args.batch_size < 1 or args.max_images < 0 or args.image_size < 0:
        raise TranslateError("--batch-size must be positive; --max-images and --image-size zero or more")
    metrics, lenient = _parse_metrics(args.metrics)
    args.ckpt = str(resolve_checkpoint(args.ckpt))
    out = Path(args.out) if args.out else _default_out(Path(args.ckpt), args.split, args.features)
    check_writable(out, "--out" if args.out else "eval's output folder (choose one with --out)")  # before the work
    device = resolve_device(args.device)
    t0 = time.perf_counter()
    state = load_checkpoint(args.ckpt)  # read once: the config, the step and the weights
    cfg = checkpoint_config(state, args.ckpt)
    root = _dataset_root(cfg, args.dataset)
    evaluator = Evaluator(root, args.split, args.features, device, args.batch_size, args.max_images or None,
                          metrics, args.image_size or None, lenient)
    translator = load_translator(args.ckpt, device=device, use_ema=not args.no_ema, state=state)
    result, fake = evaluator.run(translator.G)
    result.update(checkpoint=str(args.ckpt), step=translator.step, stage=translator.stage,
                  generator=translator.generator, dataset=args.dataset or cfg.dataset, root=str(root),
                  seconds=round(time.perf_counter() - t0, 2))
    table = markdown_table(result)
    print(table, end="")  # first, so a failed write below loses no figure
    try:
        write_json(result, out / "metrics.json")
        write_text(table, out / "metrics.md")
        pair_grid(evaluator.real_a, fake, out / "pairs.png", n=args.grid)
    except OSError as e:
        raise TranslateError(f"{out}: cannot write the results ({e.strerror or e}); free some space or give "
                             "another folder with --out (the figures are printed above)") from None
    log.info("wrote %s, %s and %s", out / "metrics.json", out / "metrics.md", out / "pairs.png")
    return 0
