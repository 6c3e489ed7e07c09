#!/usr/bin/python3
"""Checks deploy/kubernetes as far as this machine can without a cluster (no kubectl, kustomize or kubeconform here).

Every kustomization (base and overlays) is built the way kustomize builds it for what these manifests use (resources,
image tags, JSON 6902 patches), then the result is checked against phi2j itself:
  - every document parses and has apiVersion, kind and metadata.name;
  - each patch's path exists in its target (an `add` to a map key or a list end needs the parent);
  - the server's flags are ones `phi2 serve --help` lists (HELP_FILE: that output);
  - liveness probes /health and readiness /ready, the two endpoints phi2 serve answers for them;
  - terminationGracePeriodSeconds is above --drain-timeout, so a drain is never cut by the kubelet;
  - the InferencePool's target port is the container's port, and the endpoint picker's metric names are ones the
    server exports (METRICS_SOURCE: the server's Metrics.java).
Usage: /usr/bin/python3 scripts/check-manifests.py deploy/kubernetes HELP_FILE METRICS_SOURCE   (needs python3-yaml)
"""
import copy, os, re, sys
import yaml

root, help_file, metrics_source = sys.argv[1:4]
serve_help = open(help_file).read()
exported = set(re.findall(r'name\("(phi2_[a-z_]+)"\)', open(metrics_source).read()))
problems = []

def fail(where, what):
    problems.append(f"{where}: {what}")

def load(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]

def build(folder):
    k = load(os.path.join(folder, "kustomization.yaml"))[0]
    docs = []
    for r in k.get("resources", []):
        p = os.path.normpath(os.path.join(folder, r))
        if os.path.isdir(p):
            docs += build(p)
        elif not os.path.isfile(p):
            fail(folder, f"resource {r} does not exist")
        else:
            docs += load(p)
    for img in k.get("images", []):
        for d in docs:
            for c in pod_containers(d):
                if c["image"].split(":")[0] == img["name"]:
                    c["image"] = img["name"] + ":" + img["newTag"]
    for patch in k.get("patches", []):
        t = patch["target"]
        targets = [d for d in docs if d.get("kind") == t["kind"] and d["metadata"]["name"] == t["name"]]
        if not targets:
            fail(folder, f"a patch targets {t['kind']}/{t['name']}, which is not there")
        for op in yaml.safe_load(patch["patch"]):
            for d in targets:
                apply(folder, d, op)
    return docs

def apply(folder, doc, op):
    keys = [k.replace("~1", "/").replace("~0", "~") for k in op["path"].split("/")[1:]]
    node = doc
    for k in keys[:-1]:
        node = node[int(k)] if isinstance(node, list) else node.get(k) if isinstance(node, dict) else None
        if node is None:
            fail(folder, f"patch path {op['path']}: {k} is not there")
            return
    last = keys[-1]
    if op["op"] != "add":
        fail(folder, f"patch op {op['op']} is not checked here")
    elif isinstance(node, list) and last == "-":
        node.append(op["value"])
    elif isinstance(node, dict):
        node[last] = op["value"]
    else:
        fail(folder, f"patch path {op['path']} does not end in a map or a list")

def pod_containers(d):
    spec = d.get("spec", {}).get("template", {}).get("spec", {}) if d.get("kind") == "Deployment" else {}
    return spec.get("containers", []) + spec.get("initContainers", [])

def check(folder, docs):
    for d in docs:
        for field in ("apiVersion", "kind"):
            if not d.get(field):
                fail(folder, f"a document without {field}")
        if not d.get("metadata", {}).get("name"):
            fail(folder, f"{d.get('kind')} without metadata.name")
    server = [d for d in docs if d.get("kind") == "Deployment" and d["metadata"]["name"] == "phi2j"]
    if not server:
        fail(folder, "no Deployment phi2j")
        return
    pod = server[0]["spec"]["template"]["spec"]
    c = pod["containers"][0]
    args = c.get("args", [])
    for a in args:
        if a.startswith("-") and not re.fullmatch(r"-?\d+", a) and not re.search(r"(^|[ ,])" + re.escape(a.split("=")[0]) + r"([ ,=]|$)", serve_help, re.M):
            fail(folder, f"phi2 serve has no flag {a}")
    if c.get("livenessProbe", {}).get("httpGet", {}).get("path") != "/health":
        fail(folder, "the liveness probe is not /health")
    if c.get("readinessProbe", {}).get("httpGet", {}).get("path") != "/ready":
        fail(folder, "the readiness probe is not /ready")
    drain = int(args[args.index("--drain-timeout") + 1]) if "--drain-timeout" in args else 10
    if pod.get("terminationGracePeriodSeconds", 30) <= drain:
        fail(folder, f"terminationGracePeriodSeconds {pod.get('terminationGracePeriodSeconds', 30)} is not above --drain-timeout {drain}")
    port = c["ports"][0]["containerPort"]
    for pool in (d for d in docs if d.get("kind") == "InferencePool"):
        if [p["number"] for p in pool["spec"]["targetPorts"]] != [port]:
            fail(folder, f"the InferencePool targets {pool['spec']['targetPorts']}, the container listens on {port}")
    for epp in (d for d in docs if d.get("kind") == "Deployment" and d["metadata"]["name"] != "phi2j"):
        for a in epp["spec"]["template"]["spec"]["containers"][0].get("args", []):
            m = re.fullmatch(r"--[a-z-]+-metric=(.+)", a)
            if m and m.group(1) not in exported:
                fail(folder, f"the endpoint picker reads {m.group(1)}, which phi2 serve does not export ({sorted(exported)})")
    return c

overlays = sorted(os.path.join(root, "overlays", o) for o in os.listdir(os.path.join(root, "overlays")))
for folder in [os.path.join(root, "base")] + overlays:
    docs = build(folder)
    c = check(folder, copy.deepcopy(docs))
    if c is not None:
        print(f"check-manifests: {folder}: {len(docs)} objects, image {c['image']}, phi2 serve {' '.join(c['args'])}")
if problems:
    print("check-manifests: FAILED:\n  " + "\n  ".join(problems), file=sys.stderr)
    sys.exit(1)
print("check-manifests: every kustomization builds and agrees with phi2 serve")
