#!/usr/bin/env bash
# Checks Temper's Kubernetes job files without a cluster:
#   - every generated Job (one stage, and the three stages of
#     `--eval-shards`, with GPUs and a shared volume) passes the Kubernetes
#     API's own schema, strictly (unknown fields rejected), with
#     kubernetes-validate from PyPI in a venv outside the repo;
#   - what the pods would run is run here: each stage's command once per
#     completion index, in order, with JOB_COMPLETION_INDEX set as an
#     Indexed Job sets it, and the merged runs must equal the same sweep
#     points run by hand (but for wall times and run ids).
# Usage: scripts/kubernetes-test.sh <temper binary>
set -euo pipefail

temper=$(realpath "${1:?usage: scripts/kubernetes-test.sh <temper binary>}")
here=$(realpath "$(dirname "$0")")
started=$(date +%s)
venv="${TEMPER_K8S_VENV:-$HOME/.cache/temper-k8s-venv}"
if [ ! -x "$venv/bin/kubernetes-validate" ]; then
    rm -rf "$venv"
    if ! python3 -m venv "$venv" 2>/dev/null; then
        # Debian's python3 keeps venv in a package of its own.
        if [ "$(id -u)" -ne 0 ]; then
            echo "kubernetes-test: python3 cannot create a venv; install python3-venv" >&2
            exit 1
        fi
        timeout 600 apt-get update -qq
        DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq python3-venv >/dev/null
        rm -rf "$venv"
        python3 -m venv "$venv"
    fi
    timeout 600 "$venv/bin/pip" install --quiet kubernetes-validate==1.37.0
fi

work=$(mktemp -d /tmp/temper-k8s.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
mkdir bin && ln -s "$temper" bin/temper
export PATH="$work/bin:$PATH"
"$here/cluster-fixture.sh"

temper jobs --scheduler kubernetes base.toml --out "$work/one" --image temper:test > one.yaml
temper jobs --scheduler kubernetes sweep.toml --out "$work/k8s" --eval-shards 2 --image temper:test \
    --cpus 1 --memory 1Gi --gpus 1 --pvc temper-runs > pipeline.yaml
"$venv/bin/kubernetes-validate" --kubernetes-version 1.37.0 --strict --quiet one.yaml pipeline.yaml
echo "kubernetes-test: the job files pass the Kubernetes 1.37 API schema, strictly"

# What the pods run, stage after stage, index after index.
"$venv/bin/python" - pipeline.yaml <<'PY'
import os, subprocess, sys
import yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
assert [d["metadata"]["name"] for d in docs] == ["cluster-digits-train", "cluster-digits-eval", "cluster-digits-merge"], docs
for job in docs:
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed"
    container = spec["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert container["volumeMounts"][0]["mountPath"] == os.path.join(os.getcwd(), "k8s")
    env = dict(os.environ, **{e["name"]: e["value"] for e in container["env"]})
    for index in range(spec["completions"]):
        env["JOB_COMPLETION_INDEX"] = str(index)
        done = subprocess.run(container["command"], env=env, capture_output=True, text=True)
        assert done.returncode == 0, f"{job['metadata']['name']} index {index}: {done.stderr}"
print(f"kubernetes-test: ran {sum(d['spec']['completions'] for d in docs)} pods' commands in order")
PY
for i in 0 1 2; do
    temper train --config sweep.toml --sweep-index "$i" --out "$work/by-hand" --quiet 2>"$work/by-hand.log" \
        || { cat "$work/by-hand.log" >&2; exit 1; }
done
python3 "$here/same_runs.py" "$work/k8s" "$work/by-hand" cluster-digits-0 cluster-digits-1 cluster-digits-2
echo "kubernetes-test: passed in $(( $(date +%s) - started )) s"
