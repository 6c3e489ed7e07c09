#!/usr/bin/env python3
"""Loading, phi2 against llama.cpp's own tool, interleaved.

For each model and round, `phi2 generate -p hi -n 1 --json -t T` (its timings.loadSeconds and loadStages) and
`llama-completion -p hi -n 1 -t T` (its "load time": from the model load to the end of its warm-up decode), run in a
Debian root that has llama.cpp-tools (scripts/vulkan-sdk.sh's sid root, with `apt-get install llama.cpp-tools`), order
alternating per round. --cold drops the page cache before every run (root). Prints each run, the medians and the
ratios phi2/llama.cpp. The models' folder is bind-mounted into the root as /models while it runs.

Position matters on a VM: after drop_caches the host may still hold the file, so whichever tool reads a file second in
a round finds it faster (measured: llama-completion's cold F16 load 4.76 s when first, 3.11-3.16 s when second). The
ratios are therefore taken per position (first against first, second against second) and their geometric mean is the
ratio; use an even number of rounds so that each tool is first equally often.

Usage: scripts/bench-load.py MODEL.gguf[,MODEL.gguf...] [--rounds 5] [--cold] [--threads 2]
                             [--root ~/.cache/phi2j/sid-root] [--phi2 ./phi2]
"""
import argparse, json, os, re, statistics, subprocess, sys, time

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("models")
ap.add_argument("--rounds", type=int, default=6)
ap.add_argument("--cold", action="store_true")
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--root", default=os.path.expanduser("~/.cache/phi2j/sid-root"))
ap.add_argument("--phi2", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "phi2"))
a = ap.parse_args()
models = [os.path.abspath(m) for m in a.models.split(",")]
folders = {os.path.dirname(m) for m in models}
if len(folders) != 1:
    sys.exit("bench-load: the models must share one folder (it is mounted as /models in the root)")
if not os.path.exists(os.path.join(a.root, "usr/bin/llama-completion")):
    sys.exit(f"bench-load: no llama-completion in {a.root}: chroot {a.root} apt-get install llama.cpp-tools")
mnt = os.path.join(a.root, "models")
os.makedirs(mnt, exist_ok=True)
subprocess.run(["mount", "--bind", folders.pop(), mnt], check=True)

def drop():
    if a.cold:
        subprocess.run(["sync"], check=True)
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")

def phi2(m):
    drop()
    t0 = time.time()
    p = subprocess.run([a.phi2, "generate", "-m", m, "-p", "hi", "-n", "1", "--json", "-t", str(a.threads)], capture_output=True, text=True)
    wall = time.time() - t0
    if p.returncode != 0:
        sys.exit(f"bench-load: phi2 failed ({p.returncode}): {p.stderr[-1000:]}")
    t = json.loads(p.stdout)["timings"]
    s = t["loadStages"]
    return {"wall": wall, "load": t["loadSeconds"], "llama.cpp stages": s["modelSeconds"] + s["contextSeconds"] + s["warmupSeconds"], **s}

def llama(m):
    drop()
    t0 = time.time()
    p = subprocess.run(["chroot", a.root, "llama-completion", "-m", "/models/" + os.path.basename(m), "-p", "hi", "-n", "1",
                        "-t", str(a.threads), "-no-cnv", "--no-display-prompt"], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    wall = time.time() - t0
    found = re.search(r"load time =\s*([0-9.]+) ms", p.stderr)
    if p.returncode != 0 or not found:
        sys.exit(f"bench-load: llama-completion failed ({p.returncode}): {p.stderr[-1000:]}")
    return {"wall": wall, "load": float(found.group(1)) / 1000}

try:
    runs = {}
    for r in range(a.rounds):
        for m in models:
            order = [("phi2", phi2), ("llama-completion", llama)]
            for pos, (name, run) in enumerate(order if r % 2 == 0 else order[::-1]):
                x = run(m)
                runs.setdefault((os.path.basename(m), name), []).append(x)
                runs.setdefault((os.path.basename(m), name, pos), []).append(x)
                print(f"round {r + 1} {os.path.basename(m)} {name}: " + ", ".join(f"{k} {v:.3f}" for k, v in x.items()), flush=True)
finally:
    subprocess.run(["umount", mnt])
print(f"\nmedians ({a.rounds} rounds, {'cold' if a.cold else 'warm'} page cache, {a.threads} threads)")
for key, xs in sorted(runs.items(), key=lambda kv: str(kv[0])):
    if len(key) != 2:
        continue
    m, name = key
    print(f"  {m} {name}: " + ", ".join(f"{k} {statistics.median(x[k] for x in xs):.3f}" for k in xs[0]))
med = lambda xs, k: statistics.median(x[k] for x in xs)
for m in sorted({k[0] for k in runs}):
    ratios = {}
    for what, pk in (("whole load", "load"), ("llama.cpp's stages", "llama.cpp stages"), ("whole command", "wall")):
        lk = "wall" if pk == "wall" else "load"
        per = [med(runs[(m, "phi2", pos)], pk) / med(runs[(m, "llama-completion", pos)], lk)
               for pos in (0, 1) if (m, "phi2", pos) in runs and (m, "llama-completion", pos) in runs]
        ratios[what] = (statistics.geometric_mean(per), per)
    print(f"  {m} phi2/llama-completion: " + ", ".join(
        f"{what} {g:.2f} (first {per[0]:.2f}, second {per[-1]:.2f})" for what, (g, per) in ratios.items()))
