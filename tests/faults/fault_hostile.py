"""Fault cases, issue 11's hangs, denials of service and smaller findings: a FIFO among the inputs, a checkpoint
that asks for a huge dataset or huge networks, a stale temp file, a pickle that runs code, a GIF, a symlinked
run, a server that never answers. Listed in fault_cases.CASES.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

from fault_kit import (DOS, HANDLED, HANG, LOST, REFUSED, RESUME, TRACEBACK, Ctx, Evil, Verdict, ckpt_step, cli,
                       edited_ckpt, free_port, image, judge, peak_rss_ok, wait_for_port)


def apply_fifo(ctx: Ctx) -> Verdict:
    src, out = ctx.tmp / "in", ctx.tmp / "out"
    image(src / "a.png")
    image(src / "b.png", seed=1)
    os.mkfifo(src / "pipe.png")
    r = cli(ctx, "apply", "--ckpt", str(ctx.ckpt), "--out", str(out), str(src), timeout=90)
    got = sorted(p.name for p in out.iterdir()) if out.is_dir() else []
    return judge(HANDLED, HANG, [r], {"exit 0": r.rc == 0, "others written": got == ["a.png", "b.png"],
                                      "FIFO reported": "pipe.png" in r.err})


def demo_big_synthetic(ctx: Ctx) -> Verdict:
    runs, data = ctx.tmp / "runs", ctx.tmp / "data"
    def huge(ck: dict) -> None:
        ck["config"]["data"].update(root="", data_root=str(data))
        ck["config"]["data"]["synthetic"].update(n_train=3000, n_test=3000, size=128)
    edited_ckpt(ctx, runs / "big" / "ckpt" / "latest.pt", huge)
    port = free_port()
    err_file = ctx.tmp / "demo.err"
    with err_file.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "translate", "demo", "--runs", str(runs), "--port", str(port),
                                 "--device", "cpu"], cwd=ctx.tmp, env={**ctx.env, "TRANSLATE_DATA": str(data)},
                                stdout=err, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            served = wait_for_port(port, 60, proc)
            generated = [str(p.relative_to(data)) for p in data.rglob("*")] if data.exists() else []
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    text = err_file.read_text()
    if "Traceback" in text:
        return Verdict(TRACEBACK, text.strip().splitlines()[-1][:160])
    if generated:
        return Verdict(DOS, f"start-up generated {len(generated)} files under the data root")
    if not served:
        return Verdict(HANG, "not serving after 60 s")
    return Verdict(HANDLED, "served; nothing generated under the data root")


def ckpt_huge_ngf(ctx: Ctx) -> Verdict:
    ck = edited_ckpt(ctx, ctx.tmp / "huge.pt", lambda c: c["config"]["model"].update(ngf=65536))
    image(ctx.tmp / "in" / "a.png")
    r = cli(ctx, "apply", "--ckpt", str(ck), "--out", str(ctx.tmp / "out"), str(ctx.tmp / "in"), timeout=120)
    return judge(REFUSED, DOS, [r], {"one error line": r.one_error(), "quick (< 60 s)": r.secs < 60,
                                     "no big allocation (< 3 GB)": peak_rss_ok(r)},
                 f"{r.secs:.0f} s, peak {r.max_rss_mb:.0f} MB; {'; '.join(r.errors())}"[:200])


# -- smaller ---------------------------------------------------------------------------------------------------

def stale_tmp_orphan(ctx: Ctx) -> Verdict:
    run = ctx.copy_run()
    orphan = run / "ckpt" / ".latest.pt.999999.k3j2x9.tmp"  # prepare.TEMP_NAME: .<name>.<pid>.<random>.tmp
    orphan.write_bytes(b"half a checkpoint")
    old = time.time() - 7200  # older than ANY_WRITER_AGE_S: an orphan whatever its pid
    os.utime(orphan, (old, old))
    r = cli(ctx, "train", "demo", "--out", str(run), *RESUME, "--set", "train.steps=7")
    return judge(HANDLED, LOST, [r], {"resumes": r.rc == 0, "orphan removed": not orphan.exists(),
                                      "ckpt at step 7": ckpt_step(run / "ckpt" / "latest.pt") == 7})


def malicious_ckpt(ctx: Ctx) -> Verdict:
    import torch

    marker = ctx.tmp / "PWNED"
    torch.save({"step": 1, "config": {}, "payload": Evil(f"touch {marker}")}, ctx.tmp / "evil.pt")
    r = cli(ctx, "apply", "--ckpt", str(ctx.tmp / "evil.pt"), "--out", str(ctx.tmp / "out"),
            str(image(ctx.tmp / "in" / "a.png")))
    return judge(REFUSED, LOST, [r], {"one error line": r.one_error(), "no code ran": not marker.exists(),
                                     "no weights_only=False advice": "weights_only=False" not in r.err})


def apply_gif(ctx: Ctx) -> Verdict:
    from PIL import Image

    src, out = ctx.tmp / "in", ctx.tmp / "out"
    image(src / "a.png")
    Image.new("P", (20, 20)).save(src / "b.gif")
    r = cli(ctx, "apply", "--ckpt", str(ctx.ckpt), "--out", str(out), str(src))
    return judge(HANDLED, LOST, [r], {"exit 0": r.rc == 0, "png written": (out / "a.png").is_file(),
                                      "gif reported": any("b.gif" in ln and "skipped" in ln for ln in r.err.splitlines())})


PICKER = """import json, sys
from translate.app import build_demo
demo = build_demo(runs_dir=sys.argv[1], device="cpu")
picker = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "ckpt-picker")
print(json.dumps([c[0] if isinstance(c, (list, tuple)) else c for c in picker.choices]))
"""


def demo_symlinked_run(ctx: Ctx) -> Verdict:
    runs, scratch = ctx.tmp / "runs", ctx.tmp / "scratch"
    edited_ckpt(ctx, scratch / "exp1" / "ckpt" / "latest.pt", lambda c: None)
    runs.mkdir()
    (runs / "exp1").symlink_to(scratch / "exp1", target_is_directory=True)
    r = cli(ctx, str(runs), python=["-c", PICKER], timeout=120)
    try:
        choices = json.loads(r.out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        choices = []
    return judge(HANDLED, LOST, [r], {"the linked run is offered": any("exp1" in str(c) for c in choices)},
                 f"picker: {choices} (built in a subprocess with translate.app.build_demo)")


def zoo_stall(ctx: Ctx) -> Verdict:
    with socket.socket() as quiet:  # listens (the kernel accepts) but never answers
        quiet.bind(("127.0.0.1", 0))
        quiet.listen(8)
        url = f"http://127.0.0.1:{quiet.getsockname()[1]}"
        r = cli(ctx, "datasets", "download", "facades", "--root", str(ctx.tmp / "data"),
                env={"TRANSLATE_ZOO_URL": url}, timeout=127)
    return judge(REFUSED, HANG, [r], {"one error line": r.one_error(), "gives up in < 90 s": r.secs < 90,
                                      "says it is waiting": "no data from the server" in r.err},
                 f"gave up after {r.secs:.0f} s")
