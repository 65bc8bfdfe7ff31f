"""Fault cases, issue 11's first group: files lost or overwritten (an output over its input, a name clash, a run
trained over, SIGTERM mid-run, a torn log, a bad then a genuine download, a full disk). Listed in fault_cases.CASES.
"""
from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from fault_kit import (HANDLED, HANG, LOST, NOT_RUN, REFUSED, RESUME, TRACEBACK, Ctx, Verdict, ckpt_step, cli,
                       digest, http_folder, image, judge, log_steps, png_bytes, snapshot, tmpfs, zip_bytes)


def apply_out_is_input(ctx: Ctx) -> Verdict:
    src = ctx.tmp / "in"
    image(src / "a.png")
    before = snapshot(src)
    r = cli(ctx, "apply", "--ckpt", str(ctx.ckpt), "--out", str(src), str(src))
    return judge(REFUSED, LOST, [r], {"one error line": r.one_error(), "inputs kept": snapshot(src) == before})


def apply_name_clash(ctx: Ctx) -> Verdict:
    src, out = ctx.tmp / "in", ctx.tmp / "out"
    for i, name in enumerate(["a.jpg", "a.png", "a_1.png"]):
        image(src / name, seed=i)
    r = cli(ctx, "apply", "--ckpt", str(ctx.ckpt), "--out", str(out), str(src))
    written = sorted(p.name for p in out.iterdir()) if out.is_dir() else []
    return judge(HANDLED, LOST, [r], {"exit 0": r.rc == 0, "3 outputs": len(written) == 3,
                                      "3 distinct outputs": len({digest(out / n) for n in written}) == 3,
                                      "count says 3": "wrote 3 " in r.err + r.out}, ", ".join(written))


def train_into_existing_run(ctx: Ctx) -> Verdict:
    run = ctx.copy_run()
    before = snapshot(run)
    r = cli(ctx, "train", "demo", "--config", "smoke", "--out", str(run), "--set", "train.device=cpu")
    return judge(REFUSED, LOST, [r], {"one error line": r.one_error(), "offers --resume": "--resume" in r.err,
                                      "run byte-identical": snapshot(run) == before})


def sigterm_during_training(ctx: Ctx) -> Verdict:
    run, err_file = ctx.tmp / "run", ctx.tmp / "train.err"
    cmd = [sys.executable, "-m", "translate", "train", "demo", "--config", "smoke", "--out", str(run), "--set",
           "train.device=cpu", "--set", "train.steps=100000", "--set", "train.ckpt_every=0", "--set",
           "train.sample_every=0"]
    with err_file.open("w") as err:
        proc = subprocess.Popen(cmd, cwd=ctx.tmp, env=ctx.env, stdout=subprocess.DEVNULL, stderr=err)
        try:
            deadline = time.monotonic() + 180
            log = run / "log.jsonl"
            while proc.poll() is None and time.monotonic() < deadline and not (
                    log.is_file() and log.read_text().count("\n") >= 3):
                time.sleep(0.2)
            if proc.poll() is not None or time.monotonic() >= deadline:
                return Verdict(HANG if proc.poll() is None else TRACEBACK,
                               f"training did not log 3 steps: {err_file.read_text()[-300:]}")
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            return Verdict(HANG, "no exit within 120 s of SIGTERM")
        finally:
            proc.kill()
            proc.wait()
    text = err_file.read_text()
    if "Traceback" in text:
        return Verdict(TRACEBACK, text.strip().splitlines()[-1][:160])
    steps = log_steps(run / "log.jsonl") or [-1]
    saved = ckpt_step(run / "ckpt" / "latest.pt") if (run / "ckpt" / "latest.pt").is_file() else -1
    more = cli(ctx, "train", "demo", "--out", str(run), *RESUME, "--set", f"train.steps={saved + 2}",
               "--set", "train.ckpt_every=0", "--set", "train.sample_every=0")
    after = log_steps(run / "log.jsonl")
    return judge(HANDLED, LOST, [more], {
        "exit 143": proc.returncode in (143, -15), "resume command printed": "resume with: translate train" in text,
        "checkpoint at the last logged step": saved == steps[-1] >= 3, "resumes": more.rc == 0,
        "log continues": after == list(range(1, saved + 3))}, f"stopped and saved at step {saved}, resumed to {saved + 2}")


def resume_torn_log(ctx: Ctx) -> Verdict:
    run = ctx.copy_run()
    with (run / "log.jsonl").open("a") as f:
        f.write('{"step": 7, "G/nc')  # a crash in the middle of a write
    r = cli(ctx, "train", "demo", "--out", str(run), *RESUME, "--set", "train.steps=8")
    rep = cli(ctx, "report", str(run))
    return judge(HANDLED, LOST, [r, rep], {"resumes": r.rc == 0, "no merged line": log_steps(run / "log.jsonl") ==
                                           list(range(1, 9)), "report works": rep.rc == 0 and "warning" not in rep.err})


def zoo_bad_then_genuine(ctx: Ctx) -> Verdict:
    served, root = ctx.tmp / "server", ctx.tmp / "data"
    served.mkdir()
    (served / "facades.zip").write_bytes(b"<html>captive portal</html>")
    genuine = zip_bytes({f"facades/{s}/{i}.png": png_bytes(i) for s in ["trainA", "trainB", "testA", "testB"]
                         for i in range(2)})
    with http_folder(ctx, served) as url:
        env = {"TRANSLATE_ZOO_URL": url}
        bad = cli(ctx, "datasets", "download", "facades", "--root", str(root), env=env)
        sums = root / ".zoo-checksums.json"
        bad_recorded = sums.is_file() and "facades" in json.loads(sums.read_text())
        (root / "facades.zip").unlink(missing_ok=True)  # what the error says to do
        (served / "facades.zip").write_bytes(genuine)
        good = cli(ctx, "datasets", "download", "facades", "--root", str(root), env=env)
    recorded = json.loads(sums.read_text()).get("facades", {}).get("sha256") if sums.is_file() else None
    return judge(HANDLED, LOST, [bad, good], {
        "bad archive refused in one line": bad.one_error(), "its checksum not recorded": not bad_recorded,
        "genuine accepted": good.rc == 0 and (root / "facades" / "trainA").is_dir(),
        "genuine checksum recorded": recorded == hashlib.sha256(genuine).hexdigest()},
        "the genuine archive is a stand-in with the facades layout (8 tiny PNGs): only the published image "
        "counts differ (a warning), the real one cannot be fetched offline")


def apply_full_disk(ctx: Ctx) -> Verdict:
    src, out = ctx.tmp / "in", ctx.tmp / "out"
    for i in range(12):
        image(src / f"n{i:02d}.png", (96, 96), noise=True)
    with tmpfs(out, "size=64k") as mounted:
        if not mounted:
            return Verdict(NOT_RUN, "cannot mount a tmpfs (not root?)")
        r = cli(ctx, "apply", "--ckpt", str(ctx.ckpt), "--out", str(out), str(src))
        files = [p for p in out.iterdir()]
        whole = all(p.suffix == ".png" and p.stat().st_size > 0 and _png_ok(p) for p in files)
        n = len(files)
    return judge(REFUSED, LOST, [r], {"one error line": r.one_error(), "no 0-byte, partial or temp file": whole,
                                      "some written": n > 0}, f"{n} whole PNGs kept; {'; '.join(r.errors())}"[:200])


def _png_ok(path: Path) -> bool:
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.load()
        return True
    except Exception:  # noqa: BLE001 - any decoding failure means a damaged file
        return False
