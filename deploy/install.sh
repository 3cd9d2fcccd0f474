#!/usr/bin/env bash
# Install (or upgrade) kalshi-collector as a systemd service on a Debian/Ubuntu machine.
#
#   sudo deploy/install.sh [--source DIR] [--extras s3,duckdb,plot] [--key-id ID --key-file PEM]
#                          [--data-dir DIR_OR_URL] [--no-start] [--dry-run]
#
# Creates the `kalshi` system user, a virtual environment in /opt/kalshi-collector/venv with the
# package installed from the source checkout, /etc/kalshi-collector/{config.yaml,env,kalshi.pem}
# (existing files are kept), the data folder /var/lib/kalshi-collector/data, and enables
# kalshi-collector.service and the daily timer. It starts the service only once config.yaml has been
# edited (a fresh config is the example, with example events); running it again upgrades the package
# in place and restarts the service. Idempotent. --dry-run prints every command instead of running it.
set -euo pipefail

PREFIX=/opt/kalshi-collector
# The units read /etc/kalshi-collector; KC_CONF_DIR only lets the tests point --dry-run at a scratch folder.
CONF_DIR=${KC_CONF_DIR:-/etc/kalshi-collector}
STATE_DIR=/var/lib/kalshi-collector
SERVICE_USER=kalshi
UNIT_DIR=/etc/systemd/system
PYTHON=${PYTHON:-python3}

SOURCE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
EXTRAS="s3,duckdb,plot"
KEY_ID=""
KEY_FILE=""
DATA_DIR="$STATE_DIR/data"
START=1
DRY_RUN=0

AS_INSTALLED_NAME=.config.yaml.as-installed

# config.yaml as install.sh writes it: the example, with this install's data folder.
example_config() {
    sed -e "s#^  data_dir: .*#  data_dir: \"$DATA_DIR\"#" -e 's#^  private_key_path: .*#  private_key_path: null#' \
        "$SOURCE/config.example.yaml"
}

# Whether config.yaml is still what install.sh wrote (or is yet to be written, under --dry-run):
# then its events and series are the example's and the collector must not start on them.
config_unedited() {
    local config="$CONF_DIR/config.yaml"
    [ -e "$config" ] || return 0
    if [ -e "$AS_INSTALLED" ]; then
        [ "$(sha256sum <"$config")" = "$(cat "$AS_INSTALLED")" ]
        return
    fi
    cmp -s <(example_config) "$config"  # written by an install.sh that kept no checksum
}

usage() {
    sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

die() {
    echo "install.sh: $*" >&2
    exit 1
}

# Run a command, or only print it under --dry-run.
run() {
    if [ "$DRY_RUN" -eq 1 ]; then
        printf '+'
        printf ' %q' "$@"
        printf '\n'
    else
        "$@"
    fi
}

# Write stdin to a file (mode, owner) unless it exists already: local edits survive upgrades.
write_once() {
    local path=$1 mode=$2 owner=$3 content
    content=$(cat)
    if [ -e "$path" ]; then
        echo "keeping existing $path"
        return 0
    fi
    if [ "$DRY_RUN" -eq 1 ]; then
        echo "+ write $path ($mode $owner):"
        printf '%s\n' "$content" | sed 's/^/    /'
        return 0
    fi
    install -m "$mode" -o "${owner%%:*}" -g "${owner##*:}" /dev/null "$path"
    printf '%s\n' "$content" >"$path"
}

while [ $# -gt 0 ]; do
    case "$1" in
        --source) SOURCE=$2; shift 2 ;;
        --extras) EXTRAS=$2; shift 2 ;;
        --key-id) KEY_ID=$2; shift 2 ;;
        --key-file) KEY_FILE=$2; shift 2 ;;
        --data-dir) DATA_DIR=$2; shift 2 ;;
        --no-start) START=0; shift ;;
        --dry-run) DRY_RUN=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done

AS_INSTALLED="$CONF_DIR/$AS_INSTALLED_NAME"
[ -f "$SOURCE/pyproject.toml" ] || die "$SOURCE is not a kalshi-collector checkout (no pyproject.toml)"
if [ "$DRY_RUN" -eq 0 ] && [ "$(id -u)" -ne 0 ]; then
    die "run as root (sudo $0 ...), or add --dry-run to see what it would do"
fi
if [ -n "$KEY_FILE" ] && [ ! -r "$KEY_FILE" ]; then
    die "--key-file $KEY_FILE is not readable"
fi
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "$PYTHON is older than 3.11 (install python3.11 or newer and pass PYTHON=...)"
"$PYTHON" -c 'import venv, ensurepip' 2>/dev/null \
    || die "$PYTHON cannot create virtual environments (apt-get install python3-venv)"

echo "== user and folders"
if ! id "$SERVICE_USER" >/dev/null 2>&1; then
    run useradd --system --home-dir "$STATE_DIR" --no-create-home --shell /usr/sbin/nologin "$SERVICE_USER"
fi
run install -d -m 0755 -o root -g root "$PREFIX" "$PREFIX/bin"
run install -d -m 0750 -o root -g "$SERVICE_USER" "$CONF_DIR"
run install -d -m 0750 -o "$SERVICE_USER" -g "$SERVICE_USER" "$STATE_DIR"
case "$DATA_DIR" in
    *://*) echo "data in object storage: $DATA_DIR (credentials via $CONF_DIR/env)" ;;
    *) run install -d -m 0750 -o "$SERVICE_USER" -g "$SERVICE_USER" "$DATA_DIR" ;;
esac

echo "== virtual environment and package"
if [ ! -x "$PREFIX/venv/bin/python" ]; then
    run "$PYTHON" -m venv "$PREFIX/venv"
fi
run "$PREFIX/venv/bin/python" -m pip install --quiet --upgrade pip
run "$PREFIX/venv/bin/python" -m pip install --quiet --upgrade "${SOURCE}[${EXTRAS}]"
run install -m 0755 -o root -g root "$SOURCE/deploy/kalshi-collector-daily" "$PREFIX/bin/kalshi-collector-daily"

echo "== configuration"
if [ -n "$KEY_FILE" ]; then
    run install -m 0640 -o root -g "$SERVICE_USER" "$KEY_FILE" "$CONF_DIR/kalshi.pem"
fi
write_once "$CONF_DIR/env" 0640 "root:$SERVICE_USER" <<EOF
# Read by kalshi-collector.service and kalshi-collector-daily.service (systemd EnvironmentFile).
KALSHI_API_KEY_ID=$KEY_ID
KALSHI_PRIVATE_KEY_PATH=$CONF_DIR/kalshi.pem
# Object storage (storage.data_dir: s3://bucket/prefix), S3 or S3-compatible:
#AWS_ACCESS_KEY_ID=
#AWS_SECRET_ACCESS_KEY=
#AWS_DEFAULT_REGION=us-east-1
#AWS_ENDPOINT_URL=https://<namespace>.compat.objectstorage.<region>.oraclecloud.com
EOF
if [ -e "$CONF_DIR/config.yaml" ]; then
    echo "keeping existing $CONF_DIR/config.yaml"
else
    example_config | write_once "$CONF_DIR/config.yaml" 0640 "root:$SERVICE_USER"
    if [ "$DRY_RUN" -eq 1 ]; then
        echo "+ record the checksum of $CONF_DIR/config.yaml as written in $AS_INSTALLED"
    else
        sha256sum <"$CONF_DIR/config.yaml" >"$AS_INSTALLED"
    fi
fi

echo "== systemd units"
for unit in kalshi-collector.service kalshi-collector-daily.service kalshi-collector-daily.timer; do
    run install -m 0644 -o root -g root "$SOURCE/deploy/$unit" "$UNIT_DIR/$unit"
done
run systemctl daemon-reload
run systemctl enable kalshi-collector.service kalshi-collector-daily.timer

if [ "$START" -eq 0 ]; then
    echo "installed; not started (--no-start). Start with: systemctl start kalshi-collector"
elif [ "$DRY_RUN" -eq 0 ] && { ! grep -q '^KALSHI_API_KEY_ID=.' "$CONF_DIR/env" || [ ! -s "$CONF_DIR/kalshi.pem" ]; }; then
    echo "installed; NOT started: put your API key id in $CONF_DIR/env and the key in $CONF_DIR/kalshi.pem"
    echo "(root:$SERVICE_USER 0640), edit $CONF_DIR/config.yaml, then: systemctl start kalshi-collector"
elif config_unedited; then
    echo "installed; NOT started: $CONF_DIR/config.yaml is still the example (its events and series are"
    echo "examples). Edit it, then: systemctl start kalshi-collector kalshi-collector-daily.timer"
else
    run systemctl restart kalshi-collector.service
    run systemctl start kalshi-collector-daily.timer
    echo "running. Check: systemctl status kalshi-collector; curl -s http://127.0.0.1:9108/healthz"
fi
