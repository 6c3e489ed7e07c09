#!/usr/bin/env python3
"""Loading, phi2 against llama.cpp's own tool, interleaved.

For each model and round, `phi2 generate -p hi -n 1 --json -t T` (its timings.loadSeconds and loadStages) and
`llama-completion -p hi -n 1 -t T` (its "load time": from the model load to the end of its warm-up decode), run in a
Debian root that has llama.cpp-tools (scripts/vulkan-sdk.sh's sid root, with `apt-get install llama.cpp-tools`), order
alternating per round. --cold drops the page cache before every run (root). Prints each run, the medians and the
ratios phi2/llama.cpp. The models' folder is bind-mounted into the root as /models while it runs.

Usage: scripts/bench-load.py MODEL.gguf[,MODEL.gguf...] [--rounds 5] [--cold] [--threads 2]
                             [--root ~/.cache/phi2j/sid-root] [--phi2 ./phi2]
"""
import argparse, json, os, re, statistics, subprocess, sys, time

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("models")
ap.add_argument("--rounds", type=int, default=5)
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
            for name, run in (order if r % 2 == 0 else order[::-1]):
                x = run(m)
                runs.setdefault((os.path.basename(m), name), []).append(x)
                print(f"round {r + 1} {os.path.basename(m)} {name}: " + ", ".join(f"{k} {v:.3f}" for k, v in x.items()), flush=True)
finally:
    subprocess.run(["umount", mnt])
print(f"\nmedians ({a.rounds} rounds, {'cold' if a.cold else 'warm'} page cache, {a.threads} threads)")
for (m, name), xs in sorted(runs.items()):
    print(f"  {m} {name}: " + ", ".join(f"{k} {statistics.median(x[k] for x in xs):.3f}" for k in xs[0]))
for m in sorted({k[0] for k in runs}):
    p, l = runs[(m, "phi2")], runs[(m, "llama-completion")]
    med = lambda xs, k: statistics.median(x[k] for x in xs)
    print(f"  {m} phi2/llama-completion: whole load {med(p, 'load') / med(l, 'load'):.2f}, llama.cpp's stages "
          f"{med(p, 'llama.cpp stages') / med(l, 'load'):.2f}, whole command {med(p, 'wall') / med(l, 'wall'):.2f}")
