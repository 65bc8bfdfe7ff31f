"""The fault sweep's concurrency cases (issue 26): processes that meet. Two trainings in one run folder, readers
while a checkpoint is saved in a loop, eight processes on a fresh cache, a kill -9 during generation, the demo
under load, and the export edges a new user hits. Listed in fault_cases.CASES (group "concurrency").
"""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from fault_kit import DOS, HANDLED, HANG, LOST, NOT_RUN, REFUSED, TRACEBACK, Ctx, Run, Verdict, cli, http_folder, image, \
    judge, log_steps, png_bytes, snapshot, zip_bytes

TRAIN = ["train", "demo", "--config", "smoke", "--set", "train.device=cpu"]
BENCH = Path(__file__).resolve().parents[2] / "benchmarks"  # demo_load.py, the demo-under-load client


def cli_many(ctx: Ctx, argvs: list[list[str]], timeout: float = 300, env: dict | None = None) -> list[Run]:
    """``python -m translate ARGV`` for every argv at once (each in ctx.tmp/pN); all killed after ``timeout`` s."""
    procs, start = [], time.monotonic()
    for n, argv in enumerate(argvs):
        out, err = ctx.tmp / f".p{n}.out", ctx.tmp / f".p{n}.err"
        procs.append((argv, out, err, subprocess.Popen(
            [sys.executable, "-m", "translate", *argv], cwd=ctx.tmp, env={**ctx.env, **(env or {})},
            stdout=out.open("w"), stderr=err.open("w"), stdin=subprocess.DEVNULL, start_new_session=True)))
    runs = []
    for argv, out, err, proc in procs:
        timed_out = False
        try:
            proc.wait(timeout=max(1.0, timeout - (time.monotonic() - start)))
        except subprocess.TimeoutExpired:
            timed_out = True
            proc.kill()
            proc.wait()
        runs.append(Run([sys.executable, "-m", "translate", *argv], proc.returncode, out.read_text(errors="replace"),
                        err.read_text(errors="replace"), time.monotonic() - start, timed_out, 0.0))
    return runs


def _background(ctx: Ctx, argv: list[str], name: str, env: dict | None = None) -> tuple[subprocess.Popen, Path]:
    err = ctx.tmp / f"{name}.err"
    proc = subprocess.Popen([sys.executable, "-m", "translate", *argv], cwd=ctx.tmp, env={**ctx.env, **(env or {})},
                            stdout=subprocess.DEVNULL, stderr=err.open("w"), start_new_session=True)
    return proc, err


def _wait_for(check, proc: subprocess.Popen, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        if check():
            return True
        time.sleep(0.1)
    return False


# -- one training per run folder -----------------------------------------------------------------------------------

def train_same_out_twice(ctx: Ctx) -> Verdict:
    run = ctx.tmp / "run"
    first, err = _background(ctx, [*TRAIN, "--out", str(run), "--set", "train.steps=100000", "--set",
                                   "train.ckpt_every=2", "--set", "train.sample_every=0"], "first")
    try:
        if not _wait_for(lambda: (run / "ckpt" / "latest.pt").is_file(), first, 180):
            return Verdict(HANG if first.poll() is None else TRACEBACK, f"the first training did not save: "
                           f"{err.read_text()[-300:]}")
        second = cli(ctx, *TRAIN, "--out", str(run))
        resume = cli(ctx, *TRAIN, "--out", str(run), "--resume")
        overwrite = cli(ctx, *TRAIN, "--out", str(run), "--overwrite")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        first.kill()
        first.wait()
    steps = log_steps(run / "log.jsonl") or [0]
    after = cli(ctx, "train", "demo", "--out", str(run), "--resume", "--set", f"train.steps={steps[-1] + 4}",
                "--set", "train.sample_every=0")
    refused = [second, resume, overwrite]
    return judge(REFUSED, LOST, [*refused, after], {
        **{f"{r.cmd[-1] if r.cmd[-1].startswith('--') else 'new'}: one error line naming pid {first.pid}":
           r.one_error() and f"pid {first.pid}" in r.err for r in refused},
        "killed holder taken over": after.rc == 0 and f"pid {first.pid}" in after.err and "takes it over" in after.err,
        "its log continues": (log_steps(run / "log.jsonl") or [0])[-1] == steps[-1] + 4},
        (second.errors() or [""])[0][:160])


# -- readers during writes -------------------------------------------------------------------------------------------

# Saves the checkpoint at argv[1] in a loop (another step each time) until argv[2] exists; prints "writing" after
# the first save and the number of saves at the end. tests/test_readers_during_writes.py runs it too.
WRITER = textwrap.dedent("""
    import sys, time, torch
    from pathlib import Path
    from translate.runfolder.schema import save_checkpoint
    torch.set_num_threads(1)
    ckpt, stop = Path(sys.argv[1]), Path(sys.argv[2])
    state = torch.load(ckpt, weights_only=True)
    n, deadline = 0, time.monotonic() + 600
    while not stop.exists() and time.monotonic() < deadline:
        save_checkpoint({**state, "step": 1000 + n}, ckpt)
        n += 1
        if n == 1:
            print("writing", flush=True)
    print(n, flush=True)
""")


def readers_during_saves(ctx: Ctx) -> Verdict:
    run, stop = ctx.copy_run(), ctx.tmp / "STOP"
    ckpt, src = run / "ckpt" / "latest.pt", image(ctx.tmp / "in" / "a.png", (32, 32))
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(ckpt), str(stop)], cwd=ctx.tmp, env=ctx.env,
                              stdout=subprocess.PIPE, text=True)
    try:
        if writer.stdout.readline().strip() != "writing":
            return Verdict(NOT_RUN, "the checkpoint writer did not start")
        runs = [cli(ctx, "apply", "--ckpt", str(run), str(src), "--out", str(ctx.tmp / "out"), "--device", "cpu"),
                cli(ctx, "eval", "--ckpt", str(run), "--features", "tiny", "--metrics", "kid", "--max-images", "2",
                    "--device", "cpu", "--out", str(ctx.tmp / "ev")),
                cli(ctx, "export", "--ckpt", str(ckpt), "--out", str(ctx.tmp / "g.onnx"))]
    finally:
        stop.touch()
        out, _ = writer.communicate(timeout=60)
    saves = int(out.strip().splitlines()[-1] if out.strip() else 0)
    no_onnx = "optional extra 'onnx'" in runs[2].err
    return judge(HANDLED, LOST, runs, {"apply": runs[0].rc == 0, "eval": runs[1].rc == 0,
                                       "export (or the onnx extra named)": runs[2].rc == 0 or no_onnx,
                                       "the writer kept saving": saves > 3},
                 f"{saves} saves of ckpt/latest.pt during apply, eval and export" + (" (no onnx)" if no_onnx else ""))


# -- shared caches ---------------------------------------------------------------------------------------------

def eight_trainings_fresh_cache(ctx: Ctx) -> Verdict:
    data = ctx.tmp / "data"
    runs = cli_many(ctx, [[*TRAIN, "--out", str(ctx.tmp / f"run{n}"), "--set", "train.steps=2", "--set",
                           "train.decay_steps=1", "--set", "train.sample_every=0"] for n in range(8)],
                    timeout=600, env={"TRANSLATE_DATA": str(data)})
    sets = sorted(p.name for p in data.iterdir()) if data.is_dir() else []
    generated = sum("generated the synthetic dataset" in r.err for r in runs)
    return judge(HANDLED, LOST, runs, {"all 8 trained": all(r.rc == 0 for r in runs),
                                       "generated once": generated == 1,
                                       "one dataset, no temp or lock left": len(sets) == 1 and sets[0].startswith("demo-"),
                                       "complete": bool(sets) and (data / sets[0] / "labels.json").is_file()},
                 f"8 trainings at once: the demo set generated by {generated}, the others waited")


def eight_zoo_downloads(ctx: Ctx) -> Verdict:
    served, root = ctx.tmp / "server", ctx.tmp / "data"
    served.mkdir()
    (served / "facades.zip").write_bytes(zip_bytes({f"facades/{s}/{i}.png": png_bytes(i)
                                                    for s in ["trainA", "trainB", "testA", "testB"] for i in range(6)}))
    with http_folder(ctx, served) as url:
        runs = cli_many(ctx, [["datasets", "download", "facades", "--root", str(root)]] * 8, timeout=180,
                        env={"TRANSLATE_ZOO_URL": url})
    extracted = sum("is ready in" in r.err for r in runs)
    left = sorted(p.name for p in root.iterdir()) if root.is_dir() else []
    return judge(HANDLED, LOST, runs, {"all 8 succeeded": all(r.rc == 0 for r in runs),
                                       "downloaded and extracted once": extracted == 1,
                                       "verified": (root / "facades" / ".translate-dataset.json").is_file(),
                                       "nothing else left": left == [".zoo-checksums.json", "facades"]},
                 f"extracted by {extracted} of 8 processes")


def kill_9_during_generation(ctx: Ctx) -> Verdict:
    data, run = ctx.tmp / "data", ctx.tmp / "run"
    big = ["--set", "data.synthetic.n_train=800", "--set", "train.steps=2", "--set", "train.decay_steps=1"]
    env = {"TRANSLATE_DATA": str(data)}
    proc, err = _background(ctx, [*TRAIN, "--out", str(run), *big], "killed", env)
    try:
        started = _wait_for(lambda: bool(list(data.glob(".demo-*.tmp-*/trainA/*.png"))), proc, 120)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    if not started:
        return Verdict(NOT_RUN, f"the generation was not caught in progress: {err.read_text()[-200:]}")
    half = [p.name for p in data.iterdir()]
    again = cli(ctx, *TRAIN, "--out", str(run), *big, timeout=300, env=env)
    sets = sorted(p.name for p in data.iterdir())
    full = len(sets) == 1 and len(list((data / sets[0] / "trainA").glob("*.png"))) == 800
    return judge(HANDLED, LOST, [again], {"next run trains": again.rc == 0, "the set is complete": full,
                                          "the killed one's temp folder removed": len(sets) == 1},
                 f"left by kill -9: {half}; after the next run: {sets}")


# -- the demo under load -----------------------------------------------------------------------------------------

def demo_under_load(ctx: Ctx) -> Verdict:
    out = ctx.tmp / "load.json"
    r = cli(ctx, "--concurrent", "20", "--batches", "5", "--sequential", "100", "--warmup", "30", "--json", str(out),
            python=[str(BENCH / "demo_load.py")], timeout=600)
    if not out.is_file():
        return Verdict(HANG if r.timed_out else TRACEBACK, (r.err or r.out)[-200:])
    res = json.loads(out.read_text())
    burst, srv = res["phases"]["concurrent"], res["server"]
    seq = res["phases"]["sequential"]
    return judge(HANDLED, DOS, [r], {"no problem reported": not res["problems"],
                                      "burst answered or refused": burst["answered"] + burst["refused"] == 20},
                 f"burst: {burst['answered']} answered, {burst['refused']} refused (queue full); 100 in a row: median "
                 f"{seq.get('median_s', 0) * 1000:.0f} ms, p95 {seq.get('p95_s', 0) * 1000:.0f} ms; peak RSS "
                 f"{srv['peak_rss_mb']} MB, growth {srv['growth_mb']} MB")


# -- export edges --------------------------------------------------------------------------------------------------

NO_ONNX = "import sys; sys.modules['onnx'] = None; from translate.cli import main; sys.exit(main(sys.argv[1:]))"


def export_without_onnx(ctx: Ctx) -> Verdict:
    r = cli(ctx, "export", "--ckpt", str(ctx.ckpt), "--out", str(ctx.tmp / "g.onnx"), python=["-c", NO_ONNX])
    return judge(REFUSED, TRACEBACK, [r], {"one error line": r.one_error(),
                                           "names the extra": 'pip install -e ".[onnx]"' in r.err,
                                           "nothing written": not (ctx.tmp / "g.onnx").exists()},
                 "the onnx package hidden (sys.modules['onnx'] = None)")


def export_ckpt_option_and_demo(ctx: Ctx) -> Verdict:
    before = snapshot(ctx.run_dir)
    runs = [cli(ctx, "export", "--ckpt", "demo"), cli(ctx, "export", "--ckpt", str(ctx.ckpt), "--out", "a.onnx"),
            cli(ctx, "export", str(ctx.ckpt), "--out", "b.onnx")]
    if any("optional extra 'onnx'" in r.err for r in runs):
        return Verdict(NOT_RUN, "the onnx extra is not installed")
    return judge(HANDLED, LOST, runs, {"--ckpt demo": runs[0].rc == 0 and (ctx.tmp / "demo.onnx").is_file(),
                                       "--ckpt RUN": runs[1].rc == 0 and (ctx.tmp / "a.onnx").is_file(),
                                       "positional": runs[2].rc == 0 and (ctx.tmp / "b.onnx").is_file(),
                                       "run untouched": snapshot(ctx.run_dir) == before})
