"""The fault sweep's cases: issue 11's failures, each replayed through the real CLI and judged; CASES lists them.

One function per case, in a module per theme: fault_lost.py (files lost or overwritten), fault_errors.py (raw
tracebacks), fault_hostile.py (hangs, denial of service, the smaller findings), fault_concurrency.py (issue 26:
processes that meet). A case builds the fault in ctx.tmp, runs ``translate ...`` (fault_kit.cli) and returns
fault_kit.judge(good kind, bad kind, runs, {what must hold: whether it did}).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from fault_concurrency import (demo_under_load, eight_trainings_fresh_cache, eight_zoo_downloads,
                               export_ckpt_option_and_demo, export_without_onnx, kill_9_during_generation,
                               readers_during_saves, train_same_out_twice)
from fault_errors import (REPORT_LINES, apply_64_megapixels, apply_out_is_file, ckpt_config_string,
                          ckpt_foreign_weights, demo_port_in_use, eval_out_is_file, read_only_data_root, read_only_out,
                          report_bad_line, resume_other_arch, resume_steps_below, resume_torn_metrics, set_lr_nan,
                          train_out_is_file, zoo_file_folder_clash)
from fault_hostile import (apply_fifo, apply_gif, ckpt_huge_ngf, demo_big_synthetic, demo_symlinked_run,
                           malicious_ckpt, stale_tmp_orphan, zoo_stall)
from fault_kit import Ctx, Verdict
from fault_lost import (apply_full_disk, apply_name_clash, apply_out_is_input, resume_torn_log,
                        sigterm_during_training, train_into_existing_run, zoo_bad_then_genuine)


@dataclass(frozen=True)
class Case:
    name: str
    group: str  # where issue 11 listed it
    run: Callable[[Ctx], Verdict]
    cheap: bool = False  # needs no trained run


CASES: list[Case] = [
    Case("apply-out-is-input", "lost", apply_out_is_input),
    Case("apply-name-clash", "lost", apply_name_clash),
    Case("train-into-existing-run", "lost", train_into_existing_run),
    Case("sigterm-during-training", "lost", sigterm_during_training),
    Case("resume-torn-log", "lost", resume_torn_log),
    Case("zoo-bad-then-genuine", "lost", zoo_bad_then_genuine, cheap=True),
    Case("apply-full-disk", "lost", apply_full_disk),
    Case("apply-fifo", "hang", apply_fifo),
    Case("demo-big-synthetic", "dos", demo_big_synthetic),
    Case("ckpt-huge-ngf", "dos", ckpt_huge_ngf),
    Case("apply-out-is-file", "traceback", apply_out_is_file),
    Case("train-out-is-file", "traceback", train_out_is_file, cheap=True),
    Case("eval-out-is-file", "traceback", eval_out_is_file),
    Case("read-only-out", "traceback", read_only_out),
    Case("read-only-data-root", "traceback", read_only_data_root, cheap=True),
    Case("apply-64-megapixels", "traceback", apply_64_megapixels),
    Case("ckpt-foreign-weights", "traceback", ckpt_foreign_weights),
    Case("ckpt-config-string", "traceback", ckpt_config_string),
    Case("resume-other-arch", "traceback", resume_other_arch),
    Case("resume-steps-below", "traceback", resume_steps_below),
    Case("set-lr-nan", "traceback", set_lr_nan, cheap=True),
    *[Case(f"report-{k}", "traceback", lambda ctx, k=k: report_bad_line(ctx, k), cheap=True) for k in REPORT_LINES],
    Case("resume-torn-metrics", "traceback", resume_torn_metrics),
    Case("zoo-file-folder-clash", "traceback", zoo_file_folder_clash, cheap=True),
    Case("demo-port-in-use", "traceback", demo_port_in_use, cheap=True),
    Case("stale-tmp-orphan", "smaller", stale_tmp_orphan),
    Case("malicious-ckpt", "smaller", malicious_ckpt),
    Case("apply-gif", "smaller", apply_gif),
    Case("demo-symlinked-run", "smaller", demo_symlinked_run),
    Case("zoo-stall", "smaller", zoo_stall, cheap=True),
    # Issue 26: processes that meet (fault_concurrency.py).
    Case("train-same-out-twice", "concurrency", train_same_out_twice, cheap=True),
    Case("readers-during-saves", "concurrency", readers_during_saves),
    Case("eight-trainings-one-cache", "concurrency", eight_trainings_fresh_cache, cheap=True),
    Case("eight-zoo-downloads", "concurrency", eight_zoo_downloads, cheap=True),
    Case("kill-9-during-generation", "concurrency", kill_9_during_generation, cheap=True),
    Case("demo-under-load", "concurrency", demo_under_load, cheap=True),
    Case("export-without-onnx", "concurrency", export_without_onnx),
    Case("export-ckpt-and-demo", "concurrency", export_ckpt_option_and_demo),
]
