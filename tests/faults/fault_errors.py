"""Fault cases, issue 11's tracebacks: inputs that once crashed with a raw traceback (an output path that is a
file or read-only, a 64-megapixel image, broken checkpoints, a resume against the run, non-finite options, torn
report logs, a zoo archive's clash, a busy port), each now a one-line error or handled. Listed in fault_cases.CASES.
"""
from __future__ import annotations

import json
import socket
from typing import Callable

from fault_kit import (DOS, HANDLED, HANG, LOST, NOT_RUN, REFUSED, RESUME, TRACEBACK, Ctx, Verdict, cli, digest,
                       edited_ckpt, http_folder, image, judge, log_steps, peak_rss_ok, png_bytes, snapshot, tmpfs,
                       zip_bytes)


def _out_is_file(ctx: Ctx, *args: str) -> Verdict:
    f = ctx.tmp / "taken.txt"
    f.write_text("keep me\n")
    r = cli(ctx, *args, "--out", str(f))
    return judge(REFUSED, LOST, [r], {"one error line": r.one_error(), "file kept": f.read_text() == "keep me\n"})


def apply_out_is_file(ctx: Ctx) -> Verdict:
    return _out_is_file(ctx, "apply", "--ckpt", str(ctx.ckpt), str(image(ctx.tmp / "in" / "a.png")))


def train_out_is_file(ctx: Ctx) -> Verdict:
    return _out_is_file(ctx, "train", "demo", "--config", "smoke", "--set", "train.device=cpu")


def eval_out_is_file(ctx: Ctx) -> Verdict:
    return _out_is_file(ctx, "eval", "--ckpt", str(ctx.ckpt), "--features", "tiny", "--device", "cpu")


def read_only_out(ctx: Ctx) -> Verdict:
    ro = ctx.tmp / "ro"
    with tmpfs(ro, "ro,size=64k") as mounted:
        if not mounted:
            return Verdict(NOT_RUN, "cannot mount a read-only tmpfs")
        runs = [cli(ctx, "apply", "--ckpt", str(ctx.ckpt), "--out", str(ro), str(image(ctx.tmp / "in" / "a.png"))),
                cli(ctx, "train", "demo", "--config", "smoke", "--out", str(ro / "run"), "--set", "train.device=cpu"),
                cli(ctx, "eval", "--ckpt", str(ctx.ckpt), "--features", "tiny", "--out", str(ro / "ev"))]
    return judge(REFUSED, TRACEBACK, runs, {f"{r.cmd[3]}: one error line": r.one_error() for r in runs})


def read_only_data_root(ctx: Ctx) -> Verdict:
    ro = ctx.tmp / "ro"
    with tmpfs(ro, "ro,size=64k") as mounted:
        if not mounted:
            return Verdict(NOT_RUN, "cannot mount a read-only tmpfs")
        env = {"TRANSLATE_DATA": str(ro)}
        runs = [cli(ctx, "train", "demo", "--config", "smoke", "--out", str(ctx.tmp / "run"), env=env),
                cli(ctx, "datasets", "download", "facades", env=env)]
    return judge(REFUSED, TRACEBACK, runs, {**{f"{r.cmd[3]}: one error line": r.one_error() for r in runs},
                                            "names the root": all(str(ro) in r.err for r in runs)})


def apply_64_megapixels(ctx: Ctx) -> Verdict:
    from PIL import Image

    src = ctx.tmp / "in"
    image(src / "small.png")
    Image.new("RGB", (8000, 8000), (10, 120, 30)).save(src / "huge.png")
    r = cli(ctx, "apply", "--ckpt", str(ctx.ckpt), "--out", str(ctx.tmp / "out"), str(src), timeout=180)
    named = [line for line in r.err.splitlines() if "huge.png" in line]
    return judge(REFUSED, DOS, [r], {"names the image": bool(named), "small one written":
                                     (ctx.tmp / "out" / "small.png").is_file(), "no big allocation": peak_rss_ok(r)},
                 (named[0] if named else "")[-160:])


def _bad_ckpt(ctx: Ctx, edit: Callable[[dict], None]) -> Verdict:
    ck = edited_ckpt(ctx, ctx.tmp / "bad.pt", edit)
    r = cli(ctx, "apply", "--ckpt", str(ck), "--out", str(ctx.tmp / "out"), str(image(ctx.tmp / "in" / "a.png")))
    return judge(REFUSED, TRACEBACK, [r], {"one error line": r.one_error(), "names the file": "bad.pt" in r.err})


def ckpt_foreign_weights(ctx: Ctx) -> Verdict:
    import torch

    return _bad_ckpt(ctx, lambda c: c["models"].update(G={"features.0.weight": torch.zeros(3, 3)}))


def ckpt_config_string(ctx: Ctx) -> Verdict:
    return _bad_ckpt(ctx, lambda c: c.update(config="cut"))


def resume_other_arch(ctx: Ctx) -> Verdict:
    run = ctx.copy_run()
    before = digest(run / "ckpt" / "latest.pt")
    r = cli(ctx, "train", "demo", "--out", str(run), *RESUME, "--set", "model.ngf=16")
    return judge(REFUSED, LOST, [r], {"one error line": r.one_error(), "names model.ngf": "model.ngf" in r.err,
                                      "ckpt kept": digest(run / "ckpt" / "latest.pt") == before})


def resume_steps_below(ctx: Ctx) -> Verdict:
    run = ctx.copy_run()
    before = digest(run / "ckpt" / "latest.pt")
    r = cli(ctx, "train", "demo", "--out", str(run), *RESUME, "--set", "train.steps=3")
    return judge(REFUSED, LOST, [r], {"one error line": r.one_error(),
                                      "ckpt kept": digest(run / "ckpt" / "latest.pt") == before})


def set_lr_nan(ctx: Ctx) -> Verdict:
    r = cli(ctx, "train", "demo", "--config", "smoke", "--out", str(ctx.tmp / "run"), "--set", "train.lr=nan")
    return judge(REFUSED, TRACEBACK, [r], {"one error line": r.one_error(), "names train.lr": "train.lr" in r.err})


REPORT_LINES = {"torn": ("log.jsonl", b'{"step": 3, "G/nce": 1.'), "binary": ("log.jsonl", b"\x00\xff\xfe\x89PNG\r\n"),
                "list": ("log.jsonl", b"[1,2,3]\n"), "kid-text": ("metrics.jsonl", b'{"step": 1, "kid": "high"}\n')}


def report_bad_line(ctx: Ctx, kind: str) -> Verdict:
    run = ctx.tmp / "run"
    run.mkdir()
    (run / "log.jsonl").write_text("".join(json.dumps({"step": s, "stage": "cut", "lr": 2e-4, "G/nce": 3.0 / s})
                                           + "\n" for s in (1, 2)))
    (run / "metrics.jsonl").write_text(json.dumps({"step": 2, "kid": 0.01, "features": "tiny", "n_images": 4}) + "\n")
    name, line = REPORT_LINES[kind]
    with (run / name).open("ab") as f:
        f.write(line)
    before = snapshot(run)
    r = cli(ctx, "report", str(run))
    kept = {k: v for k, v in snapshot(run).items() if k.endswith(".jsonl")} == before
    return judge(HANDLED, LOST, [r], {"exit 0": r.rc == 0, f"warns {name}:LINE": f"{name}:" in r.err,
                                      "logs untouched": kept},
                 next((ln.strip() for ln in r.err.splitlines() if f"{name}:" in ln), "")[-160:])


def resume_torn_metrics(ctx: Ctx) -> Verdict:
    run = ctx.copy_run()
    (run / "metrics.jsonl").write_text(json.dumps({"step": 3, "kid": 0.02, "features": "tiny", "n_images": 4})
                                       + "\n" + '{"step": 6, "kid": 0.0')
    r = cli(ctx, "train", "demo", "--out", str(run), *RESUME, "--set", "train.steps=8", "--set", "train.eval_every=4",
            "--set", "eval.features=tiny", "--set", "eval.metrics=[kid]", "--set", "eval.n_images=4")
    # Resumed at step 6: the torn step-6 line is cut, step 3 kept, then the evaluation at step 8 appended.
    return judge(HANDLED, LOST, [r], {"resumes": r.rc == 0, "metrics parse": log_steps(run / "metrics.jsonl") ==
                                      [3, 8]}, f"metrics steps {log_steps(run / 'metrics.jsonl')}")


def zoo_file_folder_clash(ctx: Ctx) -> Verdict:
    served, root = ctx.tmp / "server", ctx.tmp / "data"
    served.mkdir()
    (served / "facades.zip").write_bytes(zip_bytes({"trainA/x": png_bytes(0), "trainA/x/y.png": png_bytes(1)}))
    with http_folder(ctx, served) as url:
        r = cli(ctx, "datasets", "download", "facades", "--root", str(root), env={"TRANSLATE_ZOO_URL": url})
    return judge(REFUSED, LOST, [r], {"one error line": r.one_error(), "nothing extracted":
                                      not (root / "facades").exists() and not list(root.glob(".facades.extract-*"))})


def demo_port_in_use(ctx: Ctx) -> Verdict:
    (ctx.tmp / "runs").mkdir()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        r = cli(ctx, "demo", "--runs", str(ctx.tmp / "runs"), "--port", str(port), "--device", "cpu", timeout=90)
    return judge(REFUSED, HANG, [r], {"one error line": r.one_error(), "names the port": f"--port {port}" in r.err})
