#!/usr/bin/env bash
# Runs Temper's generated Slurm pipeline on a real single-node Slurm cluster
# brought up on this machine from Debian's packages (slurmctld, slurmd,
# munge), then checks it against runs made by hand:
#   - a config with a 3-point sweep and a 3-way sharded evaluation goes
#     through `temper jobs --scheduler slurm --eval-shards 3` (train array,
#     then the 9-task eval array, then the merge array, by afterok);
#   - each merged run's metrics.json must equal `temper train --sweep-index
#     N` run by hand, but for wall times and run ids;
#   - a 3-shard evaluation of one saved run under Slurm must equal one
#     `temper eval` byte for byte; its time against the unsharded one is
#     printed.
# The daemons run from a private config and state folder and are stopped
# on exit. Usage: scripts/slurm-test.sh <temper binary>
set -euo pipefail

temper=$(realpath "${1:?usage: scripts/slurm-test.sh <temper binary>}")
here=$(realpath "$(dirname "$0")")
started=$(date +%s)

if ! command -v sbatch >/dev/null || ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    if [ "$(id -u)" -ne 0 ]; then
        # Said loudly, not failed: a machine without root cannot bring up daemons anyway.
        echo "slurm-test: SKIPPED: Slurm is not installed and installing it (slurmctld, slurmd, slurm-client, munge) needs root" >&2
        exit 0
    fi
    echo "slurm-test: installing Slurm from Debian's packages"
    DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y --no-install-recommends \
        slurmctld slurmd slurm-client munge >/dev/null
fi

work=$(mktemp -d /tmp/temper-slurm.XXXXXX)
conf="$work/slurm"
mkdir -p "$conf/state" "$conf/spool" "$conf/munge" "$conf/log"
pids=()
cleanup() {
    scancel --quiet --user="$(id -un)" 2>/dev/null || true
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    sleep 1
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

# munge: a private key and socket, so a machine's own munge is left alone.
dd if=/dev/urandom bs=1 count=1024 of="$conf/munge/munge.key" status=none
chmod 400 "$conf/munge/munge.key"
munge_socket="$conf/munge/munge.socket"
munged --force --key-file="$conf/munge/munge.key" --socket="$munge_socket" \
    --pid-file="$conf/munge/munged.pid" --log-file="$conf/log/munged.log" --seed-file="$conf/munge/seed"
pids+=("$(cat "$conf/munge/munged.pid")")

node=$(hostname -s)
cpus=$(nproc)
memory=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 512 ))
user=$(id -un)
cat > "$conf/slurm.conf" <<EOF
ClusterName=temper-ci
SlurmctldHost=$node(127.0.0.1)
SlurmUser=$user
SlurmdUser=$user
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$munge_socket
StateSaveLocation=$conf/state
SlurmdSpoolDir=$conf/spool
SlurmctldPidFile=$conf/slurmctld.pid
SlurmdPidFile=$conf/slurmd.pid
SlurmctldLogFile=$conf/log/slurmctld.log
SlurmdLogFile=$conf/log/slurmd.log
SlurmctldPort=16817
SlurmdPort=16818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=ci Nodes=$node Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
EOF
export SLURM_CONF="$conf/slurm.conf"
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF" -N "$node"
sleep 1
pids+=("$(cat "$conf/slurmctld.pid")" "$(cat "$conf/slurmd.pid")")
for _ in $(seq 60); do
    if sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then break; fi
    sleep 1
done
sinfo -h -o %T | grep -qE '^(idle|mixed|allocated)' || {
    echo "slurm-test: the node did not come up" >&2
    tail -n 20 "$conf/log/slurmctld.log" "$conf/log/slurmd.log" >&2
    exit 1
}
echo "slurm-test: Slurm $(sinfo -V | awk '{print $2}') up on $node ($cpus CPUs) in $(( $(date +%s) - started )) s"

cd "$work"
mkdir bin && ln -s "$temper" bin/temper
export PATH="$work/bin:$PATH"
"$here/cluster-fixture.sh"

wait_for() { # job id
    for _ in $(seq 600); do
        if [ -z "$(squeue -h -j "$1" 2>/dev/null)" ]; then return 0; fi
        if squeue -h -o %r | grep -q DependencyNeverSatisfied; then
            echo "slurm-test: a job failed, so its dependents never run" >&2
            tail -n 30 "$work"/cluster/slurm-*.log "$conf/log/slurmctld.log" >&2 || true
            exit 1
        fi
        sleep 1
    done
    echo "slurm-test: job $1 did not finish in 10 minutes" >&2
    exit 1
}

# 1. The pipeline: a 3-point sweep, each point evaluated in 3 shards.
t0=$(date +%s)
temper jobs --scheduler slurm sweep.toml --out "$work/cluster" --eval-shards 3 --cpus 1 --memory 1G > submit.sh
submitted=$(bash submit.sh)
echo "slurm-test: $submitted"
merge_job=$(echo "$submitted" | sed -E 's/.*merge ([0-9]+).*/\1/')
wait_for "$merge_job"
echo "slurm-test: sweep pipeline (3 trains, 9 eval shards, 3 merges) took $(( $(date +%s) - t0 )) s under Slurm"
for i in 0 1 2; do
    temper train --config sweep.toml --sweep-index "$i" --out "$work/by-hand" --quiet 2>"$work/by-hand.log" \
        || { cat "$work/by-hand.log" >&2; exit 1; }
done
python3 "$here/same_runs.py" "$work/cluster" "$work/by-hand" cluster-digits-0 cluster-digits-1 cluster-digits-2

# 2. A 3-shard evaluation of one saved run, against one unsharded evaluation.
run=$(ls -d "$work"/by-hand/cluster-digits-0/2*)
t0=$(date +%s%N)
temper eval --run "$run" --quiet 2>/dev/null
ms_whole=$(( ($(date +%s%N) - t0) / 1000000 ))
cat > eval.sh <<EOF
#!/bin/bash
#SBATCH --array=0-2
#SBATCH --cpus-per-task=1
#SBATCH --output=$work/eval-%A_%a.log
exec temper eval --run $run --shard auto/3 --quiet
EOF
t0=$(date +%s%N)
eval_job=$(sbatch --parsable eval.sh)
merge_job=$(sbatch --parsable --dependency=afterok:"$eval_job" --output="$work/merge-%j.log" \
    --wrap="exec temper merge $run --quiet")
wait_for "$merge_job"
ms_sharded=$(( ($(date +%s%N) - t0) / 1000000 ))
evals=("$run"/evals/*.json)
[ "${#evals[@]}" -eq 2 ] || { echo "slurm-test: expected 2 evaluations, found ${evals[*]}" >&2; cat "$work"/merge-*.log >&2; exit 1; }
cmp "${evals[0]}" "${evals[1]}"
echo "slurm-test: 3-shard evaluation under Slurm ${ms_sharded} ms (submit to merged), unsharded ${ms_whole} ms; merged file identical"
echo "slurm-test: passed in $(( $(date +%s) - started )) s"
