#!/usr/bin/env bash
# A real one-node Slurm cluster for the scale-out test, in a directory of its own.
#
#   slurm_cluster.sh start DIR   writes DIR/slurm.conf for this machine (node name from
#                                `hostname -s`, CPUs from `nproc`), a munge key, and starts
#                                munged, slurmctld and slurmd in the background; waits until
#                                the node is idle. Exit 1, with the daemons' logs, if not.
#   slurm_cluster.sh stop DIR    stops the daemons it started (by the PIDs it recorded).
#
# Clients (sbatch, squeue) find the cluster through SLURM_CONF=DIR/slurm.conf. Needs root
# and Debian's slurm-wlm and munge (scripts/setup.sh --tests installs them).
set -euo pipefail
command=${1:?usage: slurm_cluster.sh start|stop DIR}
dir=$(realpath -m "${2:?usage: slurm_cluster.sh start|stop DIR}")

stop() {
    for name in slurmd slurmctld munged; do
        if [ -f "$dir/$name.started" ]; then
            pid=$(cat "$dir/$name.started")
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -9 "$pid" 2>/dev/null || true
            rm -f "$dir/$name.started"
        fi
    done
}

fail() {
    echo "slurm_cluster: $1" >&2
    for log in munged.log slurmctld.log slurmd.log; do
        [ -f "$dir/$log" ] && { echo "--- $log (last lines)" >&2; tail -n 15 "$dir/$log" >&2; }
    done
    stop
    exit 1
}

# Descriptors this script inherited beyond stdin, stdout and stderr (a parent's pipes or its
# child-exit socket) must not live on in the daemons, or the parent waits for them forever.
for fd in $(ls /proc/$$/fd); do
    if [ "$fd" -gt 2 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
done

if [ "$command" = stop ]; then
    stop
    exit 0
fi
[ "$command" = start ] || { echo "usage: slurm_cluster.sh start|stop DIR" >&2; exit 2; }

for program in munged mungekey slurmctld slurmd sbatch sinfo; do
    command -v "$program" >/dev/null || fail "$program is not installed (scripts/setup.sh --tests installs slurm-wlm and munge)"
done
[ "$(id -u)" = 0 ] || fail "the daemons need root"

node=$(hostname -s)
cpus=$(nproc)
memory_mb=$(awk '/MemTotal/ { print int($2 / 1024 * 0.9) }' /proc/meminfo)
# Ports of our own, so that a cluster already running on this machine is left alone.
port=$((20000 + RANDOM % 20000))
mkdir -p "$dir/state" "$dir/spool"

mungekey --create --keyfile="$dir/munge.key" --force 2>"$dir/munged.log" || fail "mungekey cannot create a key"
chmod 600 "$dir/munge.key"
munged --force --key-file="$dir/munge.key" --socket="$dir/munge.socket" --pid-file="$dir/munged.pid" \
    --log-file="$dir/munged.log" --seed-file="$dir/munge.seed" --foreground </dev/null >>"$dir/munged.log" 2>&1 &
echo $! >"$dir/munged.started"
for _ in $(seq 50); do [ -S "$dir/munge.socket" ] && break; sleep 0.1; done
[ -S "$dir/munge.socket" ] || fail "munged did not start"

cat >"$dir/slurm.conf" <<EOF
ClusterName=cimcarlo-test
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge.socket
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory_mb State=UNKNOWN
PartitionName=test Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$dir/slurm.conf"

slurmctld -D -i -f "$dir/slurm.conf" </dev/null >>"$dir/slurmctld.log" 2>&1 &
echo $! >"$dir/slurmctld.started"
slurmd -D -f "$dir/slurm.conf" </dev/null >>"$dir/slurmd.log" 2>&1 &
echo $! >"$dir/slurmd.started"

for _ in $(seq 120); do
    state=$(sinfo -h -n "$node" -o %T 2>/dev/null || true)
    case "$state" in idle*) echo "slurm_cluster: node $node idle ($cpus CPUs), SLURM_CONF=$dir/slurm.conf"; exit 0 ;; esac
    for name in munged slurmctld slurmd; do
        kill -0 "$(cat "$dir/$name.started")" 2>/dev/null || fail "$name exited"
    done
    sleep 0.5
done
fail "node $node did not become idle within 60 s (state: ${state:-unknown})"
