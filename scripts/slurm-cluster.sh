#!/usr/bin/env bash
# A real single-node Slurm cluster on this machine, for the HPC tests and local trials.
#
#   scripts/slurm-cluster.sh up       install slurm-wlm + munge (apt) if missing, start munged,
#                                     slurmctld and slurmd; idempotent (a running cluster is kept)
#   scripts/slurm-cluster.sh down     stop the daemons (by their pid files, never by name)
#   scripts/slurm-cluster.sh status   sinfo of the cluster; exit 1 when it is not up
#
# Needs root (CI runs as root). No systemd: the daemons are started by hand. No cgroups and
# no accounting: proctrack/linuxproc, task/none (cgroup plugins would move job processes out
# of the sandbox's cgroup), so `sacct` does not work; squeue/scontrol do.
# Partition: `debug` (default), every core of this machine.
set -euo pipefail

CONF_DIR=/etc/slurm
CONF=$CONF_DIR/slurm.conf
RUN_DIR=/run/slurm
LOG_DIR=/var/log/slurm
SPOOL=/var/spool/slurm
CTLD_PID=$RUN_DIR/slurmctld.pid
SLURMD_PID=$RUN_DIR/slurmd.pid
MUNGE_PID=/run/munge/munged.pid

log() { echo "slurm-cluster: $*" >&2; }

alive() {  # alive PIDFILE: the process in the pid file runs
    [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null
}

install_packages() {
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null; then
        return
    fi
    if [[ $(id -u) -ne 0 ]]; then
        log "slurm-wlm and munge are not installed; run this script as root (it uses apt-get)"
        exit 1
    fi
    log "installing slurm-wlm and munge (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # "policy-rc.d denied execution of start" is expected here: no systemd, started below
    apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
}

write_conf() {
    local host node
    host=$(hostname -s)
    node=$(slurmd -C | head -1)
    mkdir -p "$CONF_DIR" "$RUN_DIR" "$LOG_DIR" "$SPOOL/ctld" "$SPOOL/d"
    cat > "$CONF" <<CONF
# written by amorphdb scripts/slurm-cluster.sh: a single-node cluster without cgroups/accounting
ClusterName=amorphdb
SlurmctldHost=${host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
StateSaveLocation=$SPOOL/ctld
SlurmdSpoolDir=$SPOOL/d
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
MinJobAge=300
KillWait=5
${node} NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
}

start_munge() {
    if alive "$MUNGE_PID"; then return; fi
    mkdir -p /run/munge && chown munge:munge /run/munge
    runuser -u munge -- /usr/sbin/munged
    for _ in $(seq 50); do munge -n | unmunge >/dev/null 2>&1 && return; sleep 0.1; done
    log "munged did not start"; exit 1
}

wait_idle() {
    for _ in $(seq 100); do
        if sinfo -h -o '%T' 2>/dev/null | grep -qE 'idle|mixed|allocated'; then return; fi
        sleep 0.2
    done
    log "the node did not become idle; see $LOG_DIR/slurmctld.log and slurmd.log"
    sinfo >&2 || true
    exit 1
}

up() {
    install_packages
    [[ -f "$CONF" ]] && grep -q "amorphdb scripts/slurm-cluster.sh" "$CONF" || write_conf
    start_munge
    alive "$CTLD_PID" || /usr/sbin/slurmctld
    alive "$SLURMD_PID" || /usr/sbin/slurmd
    wait_idle
    # a node left down/drained by an earlier run comes back
    scontrol update nodename="$(hostname -s)" state=resume >/dev/null 2>&1 || true
    sinfo >&2
}

stop_pid() {  # stop_pid PIDFILE
    if alive "$1"; then
        local pid; pid=$(cat "$1")
        kill "$pid"
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$1"
}

down() {
    stop_pid "$SLURMD_PID"
    stop_pid "$CTLD_PID"
    stop_pid "$MUNGE_PID"
    log "stopped"
}

status() {
    if alive "$CTLD_PID" && alive "$SLURMD_PID" && sinfo >/dev/null 2>&1; then
        sinfo
    else
        log "not running (start it with: scripts/slurm-cluster.sh up)"
        exit 1
    fi
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    status) status ;;
    *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
