#!/usr/bin/env bash
# Entrypoint of the kalshi-collector image (Dockerfile, compose.yaml; docs/operations.md#docker).
#
#   (no arguments) | collect ...        the live collector (needs the Kalshi key, see below)
#   backfill|weather|settlement|status|query|plot|replay|sim ...
#                                       that kalshi-collector command, with --config $COLLECTOR_CONFIG
#   daily [YYYY-MM-DD]                  yesterday's weather, then a backfill of yesterday (kalshi-collector-daily)
#   daily-at HH:MM                      run `daily` every day at HH:MM UTC, for ever (the compose scheduler)
#   next-daily-run HH:MM                print when `daily-at HH:MM` runs next (UTC) and exit
#   healthcheck                         exit 0 if http://127.0.0.1:$METRICS_PORT/healthz answers 200
#   anything else                       run as given (e.g. bash)
#
# The key: KALSHI_PRIVATE_KEY_B64 (the PEM file, base64-encoded, as the original collector's image
# took it) is decoded into $KALSHI_KEY_DIR/kalshi.pem with mode 0600 and removed from the
# environment; or KALSHI_PRIVATE_KEY_PATH names a mounted key file. `collect` refuses to start
# without one. No key material is ever printed.
set -euo pipefail

COLLECTOR_CONFIG=${COLLECTOR_CONFIG:-/app/config.yaml}
KALSHI_KEY_DIR=${KALSHI_KEY_DIR:-/tmp/kalshi}
KC_BIN=${KC_BIN:-kalshi-collector}
KC_DAILY_BIN=${KC_DAILY_BIN:-kalshi-collector-daily}
METRICS_PORT=${METRICS_PORT:-9108}
COMMANDS=" collect backfill weather settlement status query plot replay sim "

die() {
    echo "entrypoint: $*" >&2
    exit 2
}

# Put the key where the collector reads it (KALSHI_PRIVATE_KEY_PATH); $1 = 1 if it is required.
setup_key() {
    local required=$1 key
    if [ -n "${KALSHI_PRIVATE_KEY_B64:-}" ]; then
        (umask 077 && mkdir -p "$KALSHI_KEY_DIR")
        key="$KALSHI_KEY_DIR/kalshi.pem"
        rm -f "$key"
        if ! (umask 077 && printf '%s' "$KALSHI_PRIVATE_KEY_B64" | base64 -d >"$key" 2>/dev/null); then
            rm -f "$key"
            die "KALSHI_PRIVATE_KEY_B64 is not valid base64 (encode the PEM file: base64 -w0 key.pem)"
        fi
        if ! grep -q -- '-----BEGIN' "$key"; then
            rm -f "$key"
            die "KALSHI_PRIVATE_KEY_B64 does not decode to a PEM key (encode the PEM file: base64 -w0 key.pem)"
        fi
        chmod 600 "$key"
        unset KALSHI_PRIVATE_KEY_B64
        export KALSHI_PRIVATE_KEY_PATH="$key"
        echo "entrypoint: Kalshi key from KALSHI_PRIVATE_KEY_B64 written to $key (0600)" >&2
    elif [ -n "${KALSHI_PRIVATE_KEY_PATH:-}" ]; then
        [ -f "$KALSHI_PRIVATE_KEY_PATH" ] && [ -r "$KALSHI_PRIVATE_KEY_PATH" ] \
            || die "KALSHI_PRIVATE_KEY_PATH=$KALSHI_PRIVATE_KEY_PATH is not a readable file (mount the key there)"
    elif [ "$required" -eq 1 ]; then
        die "no Kalshi key: set KALSHI_PRIVATE_KEY_B64 (base64 of the PEM file) or mount the key file and set KALSHI_PRIVATE_KEY_PATH"
    fi
}

# Seconds since the epoch of the next HH:MM UTC after now.
next_daily_run() {
    local at=$1 now next
    [[ "$at" =~ ^([01][0-9]|2[0-3]):[0-5][0-9]$ ]] || die "daily-at: expected a UTC time as HH:MM, got '$at'"
    now=$(date -u +%s)
    next=$(date -u -d "today $at" +%s)
    if [ "$next" -le "$now" ]; then
        next=$(date -u -d "tomorrow $at" +%s)
    fi
    echo "$next"
}

has_config_flag() {
    local arg
    for arg in "$@"; do
        case "$arg" in --config|--config=*) return 0 ;; esac
    done
    return 1
}

run_command() {
    local command=$1
    shift
    if has_config_flag "$@"; then
        exec "$KC_BIN" "$command" "$@"
    fi
    exec "$KC_BIN" "$command" --config "$COLLECTOR_CONFIG" "$@"
}

if [ $# -eq 0 ]; then
    set -- collect
fi

case "$1" in
    healthcheck)
        exec python -c 'import sys, urllib.request
try:
    sys.exit(0 if urllib.request.urlopen(sys.argv[1], timeout=5).status == 200 else 1)
except Exception as exc:
    print(f"healthcheck: {exc}", file=sys.stderr)
    sys.exit(1)' "http://127.0.0.1:$METRICS_PORT/healthz"
        ;;
    next-daily-run)
        [ $# -eq 2 ] || die "usage: next-daily-run HH:MM"
        next=$(next_daily_run "$2")
        echo "next daily run: $(date -u -d "@$next" +%Y-%m-%dT%H:%M:%SZ) (in $((next - $(date -u +%s))) s)"
        ;;
    daily)
        shift
        setup_key 0
        KC_BIN="$KC_BIN" KC_CONFIG="$COLLECTOR_CONFIG" exec "$KC_DAILY_BIN" "$@"
        ;;
    daily-at)
        [ $# -eq 2 ] || die "usage: daily-at HH:MM (UTC)"
        setup_key 0
        next_daily_run "$2" >/dev/null  # check the time once, before the first sleep
        while true; do
            next=$(next_daily_run "$2")
            echo "daily-at: next run at $(date -u -d "@$next" +%Y-%m-%dT%H:%M:%SZ)"
            sleep $((next - $(date -u +%s)))
            KC_BIN="$KC_BIN" KC_CONFIG="$COLLECTOR_CONFIG" "$KC_DAILY_BIN" \
                || echo "daily-at: the daily run failed (exit $?); each job resumes where it stopped, next run tomorrow"
        done
        ;;
    *)
        if [[ "$COMMANDS" == *" $1 "* ]]; then
            if [ "$1" = collect ]; then setup_key 1; else setup_key 0; fi
            run_command "$@"
        fi
        exec "$@"
        ;;
esac
