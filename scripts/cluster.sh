#!/usr/bin/env bash
# A local 3-node RabbitMQ cluster for tests and trials, beside (never touching) the machine's
# own node on 5672:
#   scripts/cluster.sh up|down|status|kill NODE|start NODE|urls|ctl NODE ARGS…
# Nodes intake-c1..3@localhost, AMQP on 127.0.0.1:5701-5703, Erlang distribution on
# 127.0.0.1:25701-25703, no management plugin; their own cookie (a HOME of their own, since
# the main node's cookie is /var/lib/rabbitmq/.erlang.cookie), data and logs under
# CLUSTER_DIR (default /tmp/intake-cluster). The user and vhost `intake` as on the main node;
# quorum queues get 3 members with their leaders spread (queue_leader_locator = balanced).
# `up` and `start` are idempotent; `down` stops the nodes and deletes CLUSTER_DIR.
set -euo pipefail

DIR=${CLUSTER_DIR:-/tmp/intake-cluster}
BIN=/usr/lib/rabbitmq/bin
NODES=(1 2 3)
AMQP_BASE=5700
DIST_BASE=25700

log() { echo "cluster: $*"; }
die() { echo "cluster: ERROR: $*" >&2; exit 1; }

node_name() { echo "intake-c$1@localhost"; }
amqp_port() { echo $((AMQP_BASE + $1)); }
check_node() { [[ $1 =~ ^[123]$ ]] || die "NODE is 1, 2 or 3 (got '${1:-}')"; }

# Every rabbitmq command with this cluster's HOME (its cookie) and an explicit node: without
# -n, rabbitmqctl would talk to the main node.
# Runs a command in this node's environment.
with_node_env() {
    local n=$1; shift
    (
        export HOME=$DIR/home RABBITMQ_NODENAME=$(node_name "$n")
        export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT=$(amqp_port "$n")
        export RABBITMQ_DIST_PORT=$((DIST_BASE + n))
        export RABBITMQ_MNESIA_BASE=$DIR/data RABBITMQ_LOG_BASE=$DIR/log
        export RABBITMQ_PID_FILE=$DIR/c$n.pid RABBITMQ_CONFIG_FILE=$DIR/c$n
        export RABBITMQ_ENABLED_PLUGINS_FILE=$DIR/enabled_plugins
        export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
        "$@"
    )
}
ctl() {
    local n=$1; shift
    env HOME="$DIR/home" timeout 30 "$BIN/rabbitmqctl" -q -n "$(node_name "$n")" "$@"
}
pid_of() { [[ -s $DIR/c$1.pid ]] && cat "$DIR/c$1.pid"; }
running() {
    local pid
    pid=$(pid_of "$1") || return 1
    kill -0 "$pid" 2>/dev/null
}
# Alive and taking AMQP connections (cheap: a CLI call starts an Erlang VM of its own).
answering() { running "$1" && (exec 3<>"/dev/tcp/127.0.0.1/$(amqp_port "$1")") 2>/dev/null; }

prepare() {
    mkdir -p "$DIR/home" "$DIR/data" "$DIR/log"
    if [[ ! -s $DIR/home/.erlang.cookie ]]; then
        head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' >"$DIR/home/.erlang.cookie"
        chmod 400 "$DIR/home/.erlang.cookie"
    fi
    echo '[].' >"$DIR/enabled_plugins"
    local n
    for n in "${NODES[@]}"; do
        cat >"$DIR/c$n.conf" <<EOF
listeners.tcp.1 = 127.0.0.1:$(amqp_port "$n")
loopback_users = none
default_user = intake
default_pass = intake
default_vhost = intake
default_permissions.configure = .*
default_permissions.read = .*
default_permissions.write = .*
queue_leader_locator = balanced
cluster_formation.peer_discovery_backend = classic_config
cluster_formation.classic_config.nodes.1 = $(node_name 1)
cluster_formation.classic_config.nodes.2 = $(node_name 2)
cluster_formation.classic_config.nodes.3 = $(node_name 3)
EOF
    done
}

start_node() {
    local n=$1
    if answering "$n"; then
        log "$(node_name "$n") already running on 127.0.0.1:$(amqp_port "$n")"
        return
    fi
    if ss -Hltn "sport = :$(amqp_port "$n")" | grep -q .; then
        die "port $(amqp_port "$n") is taken by another process"
    fi
    log "starting $(node_name "$n") on 127.0.0.1:$(amqp_port "$n")"
    with_node_env "$n" "$BIN/rabbitmq-server" -detached >>"$DIR/log/c$n.start.log" 2>&1 \
        || die "cannot start $(node_name "$n") (see $DIR/log)"
    # A node may take a minute or two on a busy machine (it syncs its quorum queue members).
    local deadline=$((SECONDS + 240))
    until ctl "$n" await_startup >/dev/null 2>&1 || ((SECONDS > deadline)); do sleep 1; done
    ctl "$n" await_startup >/dev/null 2>&1 \
        || die "$(node_name "$n") did not start in 240 s (see $DIR/log)"
}

join_if_alone() {
    local n=$1
    [[ $n == 1 ]] && return
    if ctl "$n" cluster_status 2>/dev/null | grep -q "$(node_name 1)"; then
        return
    fi
    log "joining $(node_name "$n") to $(node_name 1)"
    ctl "$n" stop_app && ctl "$n" reset && ctl "$n" join_cluster "$(node_name 1)" \
        && ctl "$n" start_app || die "$(node_name "$n") cannot join the cluster"
}

urls() {
    local n list=()
    for n in "${NODES[@]}"; do list+=("amqp://intake:intake@127.0.0.1:$(amqp_port "$n")/intake"); done
    (IFS=,; echo "${list[*]}")
}

status() {
    local n up=0
    for n in "${NODES[@]}"; do
        if answering "$n"; then
            log "$(node_name "$n") up on 127.0.0.1:$(amqp_port "$n")"
            up=$((up + 1))
        else
            log "$(node_name "$n") down"
        fi
    done
    log "AMQP_URL=$(urls)"
    ((up == ${#NODES[@]}))
}

stop_node() {
    local n=$1 pid
    pid=$(pid_of "$n") || return 0
    if kill -0 "$pid" 2>/dev/null; then
        log "stopping $(node_name "$n")"
        ctl "$n" stop >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
        local deadline=$((SECONDS + 30))
        while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.5; done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$DIR/c$n.pid"
}

case ${1:-} in
up)
    command -v "$BIN/rabbitmq-server" >/dev/null || die "rabbitmq-server is not installed (make services)"
    prepare
    for n in "${NODES[@]}"; do start_node "$n"; join_if_alone "$n"; done
    status
    ;;
down)
    for n in "${NODES[@]}"; do stop_node "$n"; done
    rm -rf "$DIR"
    log "stopped and removed $DIR"
    ;;
status) status ;;
urls) urls ;;
ctl) # rabbitmqctl against one of this cluster's nodes
    check_node "${2:-}"
    n=$2; shift 2
    ctl "$n" "$@"
    ;;
kill)
    check_node "${2:-}"
    pid=$(pid_of "$2") || die "$(node_name "$2") is not running"
    log "SIGKILL $(node_name "$2") (pid $pid)"
    kill -9 "$pid"
    ;;
start)
    check_node "${2:-}"
    [[ -d $DIR/home ]] || die "no cluster in $DIR: run 'scripts/cluster.sh up' first"
    start_node "$2"
    ;;
*)
    echo "usage: $0 up|down|status|urls|kill NODE|start NODE|ctl NODE ARGS…   (NODE: 1, 2 or 3)" >&2
    exit 2
    ;;
esac
