"""Forward+backward time and peak memory of ``wise_kl`` against the naive broadcast version.

Run:  python benchmarks/wise_kl.py            (add --quick for a fast smoke run)

The goal (issue 19): forward+backward at M = 1024, d = 64 within 60 ms on 2 threads. The last
line reports that size's fastest wall time on the run's threads, and its CPU time on one thread
(robust on a shared machine, where the wall time of two threads depends on what else runs), with
the 1-minute load average. It is measured in a fresh process, as a training run meets it: after
the naive version has allocated and freed its ~1.8 GiB in this one, glibc's heap makes the same
call 20-45% slower (measured 51 against 74 ms on 2 threads), which is the table's state, not
training's.

Both versions are timed in the same process, interleaved per size, so the ratio is meaningful on
a noisy machine. Peak memory is the extra memory one forward+backward needs: on a GPU,
``torch.cuda.max_memory_allocated``; on the CPU (Linux), the rise of the resident set's high-water
mark, measured in a second process started with ``MALLOC_MMAP_THRESHOLD_=65536`` so that glibc
returns freed blocks to the OS at once and the high-water mark counts only what was live.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import torch

from wisetut.objectives import wise_kl, wise_kl_naive


def _inputs(m: int, d: int, device: torch.device):
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(m, d, generator=g).to(device).requires_grad_()
    lv = (0.5 * torch.randn(m, d, generator=g)).to(device).requires_grad_()
    return mu, lv


def _run(fn, mu, lv):
    mu.grad = lv.grad = None
    fn(mu, lv).backward()


def _naive_fits(m: int, d: int) -> bool:
    return m * m * d * 4 * 8 < 8 * 2**30  # the naive version holds ~8 [M, M, d] float32 tensors


def _rss_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _peak_mib(fn, mu, lv, device) -> float:
    _run(fn, mu, lv)  # warm-up: lazy initialisation is not the function's memory
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        _run(fn, mu, lv)
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    with open("/proc/self/clear_refs", "w") as f:  # reset VmHWM to the current resident set
        f.write("5")
    base = _rss_kib("VmRSS")
    _run(fn, mu, lv)
    return (_rss_kib("VmHWM") - base) / 1024


def _time_ms(fn, mu, lv, device, repeats, clock=time.perf_counter, best=False) -> float:
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = clock()
        _run(fn, mu, lv)
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(clock() - t0)
    return 1e3 * (min(times) if best else statistics.median(times))


def _memory_pass(sizes, device) -> dict:
    out = {}
    for m, d in sizes:
        mu, lv = _inputs(m, d, device)
        naive = _peak_mib(wise_kl_naive, mu, lv, device) if _naive_fits(m, d) else float("nan")
        out[f"{m},{d}"] = (_peak_mib(wise_kl, mu, lv, device), naive)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes only, one repeat")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--memory-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--goal-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    device = torch.device(args.device)
    sizes = [(m, d) for m in ([64, 256] if args.quick else [64, 256, 1024, 4096]) for d in (2, 64)]

    if args.memory_only:
        print(json.dumps(_memory_pass(sizes, device)))
        return
    if args.goal_only:
        print(_goal_line(device))
        return
    if device.type == "cpu" and sys.platform.startswith("linux"):
        argv = [sys.executable, __file__, "--memory-only", "--device", "cpu"] + (["--quick"] if args.quick else [])
        env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
        memory = json.loads(subprocess.run(argv, env=env, check=True, capture_output=True, text=True).stdout)
    elif device.type == "cuda":
        memory = _memory_pass(sizes, device)
    else:
        memory = {}

    print(f"device={device} threads={torch.get_num_threads()} torch={torch.__version__}")
    header = f"{'M':>5} {'d':>3} | {'wise_kl ms':>10} {'naive ms':>9} {'speed-up':>8} | {'wise_kl MiB':>11} {'naive MiB':>9}"
    print(header)
    print("-" * len(header))
    for m, d in sizes:
        mu, lv = _inputs(m, d, device)
        repeats = 1 if args.quick else (3 if m >= 4096 else 7)
        _run(wise_kl, mu, lv)  # warm-up
        t_fast = _time_ms(wise_kl, mu, lv, device, repeats)
        t_naive = _time_ms(wise_kl_naive, mu, lv, device, repeats) if _naive_fits(m, d) else float("nan")
        mem_fast, mem_naive = memory.get(f"{m},{d}", (float("nan"), float("nan")))
        print(f"{m:>5} {d:>3} | {t_fast:>10.1f} {t_naive:>9.1f} {t_naive / t_fast:>7.1f}x | {mem_fast:>11.1f} {mem_naive:>9.1f}")
    print("nan: not run (the naive version would need more than 8 GiB)")
    if not args.quick:
        argv = [sys.executable, __file__, "--goal-only", "--device", args.device]
        print(subprocess.run(argv, check=True, capture_output=True, text=True).stdout.strip())


def _goal_line(device: torch.device) -> str:
    """The goal size's fastest wall time on this process's threads and its one-thread CPU time (a fresh process)."""
    mu, lv = _inputs(1024, 64, device)
    _run(wise_kl, mu, lv)  # warm-up
    fastest = _time_ms(wise_kl, mu, lv, device, 7, best=True)
    line = (
        f"M = 1024, d = 64, in a fresh process: fastest of 7 {fastest:.1f} ms wall on {torch.get_num_threads()} "
        "threads (goal: 60 ms on 2)"
    )
    if device.type == "cpu":
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        cpu = _time_ms(wise_kl, mu, lv, device, 7, clock=time.process_time, best=True)
        torch.set_num_threads(threads)
        line += f"; {cpu:.1f} ms of CPU time on one thread"
    return f"{line}; 1-minute load average {os.getloadavg()[0]:.1f}"


if __name__ == "__main__":
    main()
