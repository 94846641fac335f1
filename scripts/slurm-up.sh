# Sourced, not run: brings up a single-node Slurm cluster on this machine
# from Debian's packages (installing slurmctld, slurmd, slurm-client and
# munge when root) with a private config, munge key and state under a fresh
# $work folder, exports SLURM_CONF, stops the daemons and removes $work on
# exit, and defines wait_for <job id>. Leaves the caller in $work with
# `temper` ($temper) on PATH. Needs $temper and $started set.

if ! command -v sbatch >/dev/null || ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    if [ "$(id -u)" -ne 0 ]; then
        # Said loudly, not failed: a machine without root cannot bring up daemons anyway.
        echo "slurm: SKIPPED: Slurm is not installed and installing it (slurmctld, slurmd, slurm-client, munge) needs root" >&2
        exit 0
    fi
    echo "slurm: installing Slurm from Debian's packages"
    timeout 600 apt-get update -qq
    DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq --no-install-recommends \
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

node=$(hostname -s 2>/dev/null || hostname)
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
    echo "slurm: the node did not come up" >&2
    tail -n 20 "$conf/log/slurmctld.log" "$conf/log/slurmd.log" >&2
    exit 1
}
echo "slurm: Slurm $(sinfo -V | awk '{print $2}') up on $node ($cpus CPUs) in $(( $(date +%s) - started )) s"

cd "$work"
mkdir bin && ln -s "$temper" bin/temper
export PATH="$work/bin:$PATH"

wait_for() { # job id
    for _ in $(seq 600); do
        if [ -z "$(squeue -h -j "$1" 2>/dev/null)" ]; then return 0; fi
        if squeue -h -o %r | grep -q DependencyNeverSatisfied; then
            echo "slurm: a job failed, so its dependents never run" >&2
            find "$work" -name 'slurm-*.log' -exec tail -n 30 {} + >&2 || true
            tail -n 30 "$conf/log/slurmctld.log" >&2 || true
            exit 1
        fi
        sleep 1
    done
    echo "slurm: job $1 did not finish in 10 minutes" >&2
    exit 1
}
