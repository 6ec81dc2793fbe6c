# Sourced by scripts/chaos.sh once the front and a consumer run on the local 3-node cluster
# (scripts/cluster.sh): the cluster scenarios, at most 2% refused each.

node_of_name() { # intake-c2@localhost -> 2
    local name=$1
    name=${name#intake-c}
    echo "${name%%@*}"
}
leader_node() {
    node_of_name "$(list_queues name leader | awk '$1=="intake-chaos.q"{print $2}')"
}
connected_node() { # the node the front's AMQP connection goes to, by its port
    local port
    port=$(ss -Htnp state established '( dport >= :5701 and dport <= :5703 )' \
        | awk -v pid="pid=$front_pid," 'index($0, pid) {split($4, a, ":"); print a[length(a)]; exit}')
    [[ -n $port ]] && echo $((port - 5700))
}
node_back() { bash scripts/cluster.sh start "$1" >>"$out/cluster.log" 2>&1 || say "node $1 did not come back (see $out/cluster.log)"; }
down_for() { python3 -c "print(max(3, $seconds / 4))"; }

# kill_node_for_a_while DESCRIPTION NODE: kills the node, keeps it down, brings it back.
kill_node_for_a_while() {
    [[ $2 =~ ^[123]$ ]] || { say "cannot tell $1"; return 1; }
    say "killing node $2 ($1)"
    bash scripts/cluster.sh kill "$2" >>"$out/cluster.log"
    sleep "$(down_for)"
    node_back "$2"
}
kill_leader_node() { kill_node_for_a_while "the leader of intake-chaos.q" "$(leader_node || true)"; }
kill_connected_node() { kill_node_for_a_while "the front's node" "$(connected_node || true)"; }
restart_a_node() {
    local node=3
    say "killing node $node and starting it again at once"
    bash scripts/cluster.sh kill "$node" >>"$out/cluster.log"
    node_back "$node"
}
kill_partition_consumer() {
    say "SIGKILL the consumer of partition 1"
    kill -KILL "${consumer_pids[1]}" 2>/dev/null || true
    wait "${consumer_pids[1]}" 2>/dev/null || true
    sleep "$(down_for)"
    INTAKE_CONSUMER__LISTEN=127.0.0.1:$(consumer_port 2) INTAKE_CONSUMER__PARTITIONS=1 \
        "$bin/intake-consumer" >>"$out/consumer.log" 2>&1 &
    consumer_pids[1]=$!
}

# The reconnects counted below are those from here on.
front_from=$(wc -l <"$out/front.log")
consumer_from=$(wc -l <"$out/consumer.log")
run_scenario cluster-kill-leader kill_leader_node 2
run_scenario cluster-kill-connected-node kill_connected_node 2
run_scenario cluster-node-restart restart_a_node 2

# 1 -> 3 partitions by the documented procedure: consumers first, then the front.
say "3 partitions: consumers first, then the front"
stop_all
export INTAKE_BROKER__PARTITIONS=3
start_consumer "$(consumer_port 1)" 0
start_consumer "$(consumer_port 2)" 1
start_consumer "$(consumer_port 3)" 2
sleep 2
start_front
wait_until "front ready with 3 partitions" 60 front_ready
run_scenario cluster-3-partitions kill_partition_consumer 2

# Time from a lost connection to the next one, from the logs' timestamps.
python3 - "$out/front.log" "$front_from" "$out/consumer.log" "$consumer_from" >"$out/reconnect.md" <<'PY'
import re, sys
from datetime import datetime
stamp = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)Z")
ansi = re.compile(r"\x1b\[[0-9;]*m")
args = sys.argv[1:]
for path, skip in zip(args[::2], args[1::2]):
    lost, gaps = None, []
    for line in list(open(path, errors="replace"))[int(skip):]:
        line = ansi.sub("", line)
        m = stamp.search(line)
        if not m:
            continue
        at = datetime.fromisoformat(m.group(1)[:26])
        if "lost the RabbitMQ connection" in line or "lost RabbitMQ; reconnecting" in line:
            lost = lost or at
        elif "connected to RabbitMQ" in line and lost:
            gaps.append((at - lost).total_seconds() * 1000)
            lost = None
    who = "front" if "front" in path else "consumers"
    if gaps:
        gaps.sort()
        print(f"- {who}: {len(gaps)} reconnects, median {gaps[len(gaps)//2]:.0f} ms, max {gaps[-1]:.0f} ms")
    else:
        print(f"- {who}: no reconnects")
PY
say "time to reconnect:"
cat "$out/reconnect.md" >&2
