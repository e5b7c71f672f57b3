#!/usr/bin/env bash
# A one-node SLURM cluster on localhost for the SLURM integration test (tests/test_slurm.py).
#
#   bash tests/slurm/cluster.sh start   # as root: install slurm-wlm + munge (Debian), configure, start
#   bash tests/slurm/cluster.sh stop
#
# Partitions `cpu` (default) and `gpu` — the names profiles/slurm uses — both on this node
# (the `gpu` partition has no GPU here; the test sets compute.train_gpus=0).
# No accounting database: AccountingStorageType=accounting_storage/none, so `sacct` cannot
# report jobs; the workflow queries job states with `squeue` (--slurm-status-command squeue),
# which needs finished jobs to stay visible long enough: MinJobAge=600 s.
set -euo pipefail
ACTION=${1:-start}
CONF=/etc/slurm/slurm.conf
NODE=localhost

stop() {
  pkill -x slurmd 2>/dev/null || true
  pkill -x slurmctld 2>/dev/null || true
  pkill -x munged 2>/dev/null || true
}

if [ "$ACTION" = stop ]; then stop; exit 0; fi
[ "$ACTION" = start ] || { echo "usage: $0 start|stop" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "cluster.sh must run as root (it installs and starts daemons)" >&2; exit 1; }

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null || ! command -v sbatch >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi

# munge: the key the package made (or a new one), daemon as the munge user
if [ ! -s /etc/munge/munge.key ]; then
  dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
fi
chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge
if ! munge -n >/dev/null 2>&1; then
  runuser -u munge -- /usr/sbin/munged
fi

CPUS=$(nproc)
MEM=$(awk '/MemTotal/ {printf "%d", $2 / 1024 * 0.9}' /proc/meminfo)
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
cat > "$CONF" <<EOF
# written by tests/slurm/cluster.sh — a one-node test cluster
ClusterName=dlscore-ci
SlurmctldHost=$NODE
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MinJobAge=600
ReturnToService=2
SchedulerType=sched/backfill
MpiDefault=none
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM State=UNKNOWN
PartitionName=cpu Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=$NODE Default=NO MaxTime=INFINITE State=UP
EOF

stop_slurm() { pkill -x slurmd 2>/dev/null || true; pkill -x slurmctld 2>/dev/null || true; sleep 1; }
stop_slurm
slurmctld -c          # clean start: no state from an earlier cluster
slurmd -N "$NODE"
for _ in $(seq 1 60); do
  if sinfo -h -o '%t' 2>/dev/null | grep -qE '^(idle|mix|alloc)'; then
    scontrol update NodeName="$NODE" State=RESUME 2>/dev/null || true
    sinfo
    exit 0
  fi
  sleep 1
done
echo "SLURM did not come up; logs:" >&2
tail -20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
exit 1
