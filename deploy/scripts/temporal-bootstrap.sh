#!/bin/sh
# One-shot bootstrap; runs in the temporalio/admin-tools image (which ships the `temporal` CLI).
#  1. waits until the Temporal frontend answers `temporal operator cluster health`,
#  2. creates the namespace if it does not exist yet,
#  3. registers the custom search attributes the agent workflows upsert.
# Every step is idempotent and retried, so the service can be re-run on every `docker compose up`.
set -eu

ADDRESS="${TEMPORAL_ADDRESS:-temporal:7233}"
NAMESPACE="${TEMPORAL_NAMESPACE:-default}"
RETENTION="${NAMESPACE_RETENTION:-72h}"
MAX_ATTEMPTS="${BOOTSTRAP_MAX_ATTEMPTS:-90}"
PAUSE="${BOOTSTRAP_RETRY_SECONDS:-2}"

# name:type pairs; with SQL visibility custom search attributes belong to a namespace.
SEARCH_ATTRIBUTES="AgentStatus:Keyword AgentUser:Keyword AgentTurns:Int AgentCostUsd:Double AgentPromptVersion:Keyword AgentName:Keyword AgentPromptChannel:Keyword AgentForkParent:Keyword"

# Temporal's own compose script resolves the frontend host to an IPv4 address before calling the
# CLI; do the same, falling back to the name when it cannot be resolved here.
host=${ADDRESS%:*}
port=${ADDRESS##*:}
ip=$(getent ahosts "$host" 2>/dev/null | awk '/STREAM/ && $1 !~ /:/ { print $1; exit }' || true)
[ -n "$ip" ] && ADDRESS="$ip:$port"

tcli() { temporal "$@" --address "$ADDRESS"; }

retry() {
  what=$1
  shift
  n=1
  until "$@"; do
    if [ "$n" -ge "$MAX_ATTEMPTS" ]; then
      echo "bootstrap: giving up on '$what' after $n attempts" >&2
      return 1
    fi
    echo "bootstrap: '$what' not done yet (attempt $n/$MAX_ATTEMPTS), retrying in ${PAUSE}s"
    n=$((n + 1))
    sleep "$PAUSE"
  done
}

server_healthy() { tcli operator cluster health >/dev/null 2>&1; }

ensure_namespace() {
  tcli operator namespace describe --namespace "$NAMESPACE" >/dev/null 2>&1 && return 0
  echo "bootstrap: creating namespace '$NAMESPACE' (retention $RETENTION)"
  tcli operator namespace create --namespace "$NAMESPACE" --retention "$RETENTION"
}

has_attribute() {
  tcli operator search-attribute list --namespace "$NAMESPACE" 2>/dev/null \
    | awk '{ print $1 }' | grep -qx "$1"
}

ensure_attribute() {
  has_attribute "$1" && return 0
  echo "bootstrap: registering search attribute $1 ($2) in '$NAMESPACE'"
  # A just-created namespace can take a few seconds to reach every frontend cache; retry() covers it.
  tcli operator search-attribute create --namespace "$NAMESPACE" --name "$1" --type "$2" || return 1
  has_attribute "$1"
}

echo "bootstrap: waiting for Temporal at $ADDRESS"
retry "cluster health" server_healthy
retry "namespace $NAMESPACE" ensure_namespace
for pair in $SEARCH_ATTRIBUTES; do
  retry "search attribute ${pair%%:*}" ensure_attribute "${pair%%:*}" "${pair#*:}"
done
echo "bootstrap: namespace '$NAMESPACE' and search attributes are ready"
