#!/usr/bin/env bash
# Installs, upgrades, starts, stops and checks Wharf on one Debian or Ubuntu host. ./install.sh --help explains.
set -euo pipefail
shopt -s nullglob

ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
readonly ROOT
readonly CLI="$ROOT/apps/cli/dist/main.js"
# The servers run through the launcher, which gives node the flags they are tuned for (see the file).
readonly LAUNCHER="$ROOT/apps/cli/bin/wharf"
readonly SERVICE_USER=wharf
readonly NODE_MIN_VERSION=20.19.0
readonly PNPM_PACKAGE=pnpm@12
readonly UNIT_DIR=/etc/systemd/system
readonly PG_READY_TIMEOUT=60
readonly REDIS_READY_TIMEOUT=30
readonly CORE_READY_TIMEOUT="${WHARF_CORE_READY_TIMEOUT:-120}"
readonly JOBSERVICE_READY_TIMEOUT=60
readonly SERVICE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# install.sh's own records (fingerprints of what runs, locks), one directory per data_volume, readable by root alone:
# nothing under data_volume, which the service user owns, is ever trusted by root.
readonly STATE_ROOT=/var/lib/wharf-install
# Written by install.sh into each directory it hands over to the service user; install.sh takes over an existing
# directory only when it is empty or carries this marker.
readonly MARKER=.wharf-data-volume

usage() {
  cat <<EOF
Usage: ./install.sh [--config FILE] [--grant-access] [--skip-build] [--self-signed [--https-port PORT]]
       ./install.sh --stop | --status [--config FILE]
       ./install.sh --uninstall [--purge] [--config FILE]
       ./install.sh --print-units [--config FILE]

Installs Wharf on this host and starts it, or upgrades it in place when it is installed: installs pnpm
and the workspace's dependencies, builds every app, validates harbor.yml (created from
harbor.yml.example on the first run), provisions the embedded PostgreSQL and Redis unless
external_database / external_redis are set, creates the secrets under data_volume, runs the database
migrations and starts core and the jobservice as the unprivileged '$SERVICE_USER' user (systemd units
where systemd runs, supervised processes otherwise). Running it again changes nothing that works:
secrets, configuration and data are kept, and only what an upgrade needs is restarted.

Options:
  --config FILE    harbor.yml to use (default: harbor.yml next to install.sh)
  --grant-access   let the '$SERVICE_USER' user traverse the directories that lead to this checkout, node
                   and data_volume when it cannot (setfacl, or chmod o+x); each change is listed
  --skip-build     use the dependencies and build already in this directory (no pnpm install/build)
  --self-signed    serve HTTPS with a self-signed certificate for hostname, generated under
                   <data_volume>/secret/tls and renewed when it nears its end or hostname changes; adds an
                   https: section naming it to harbor.yml when it has none (for a first try: clients must
                   trust its CA, and the summary says how)
  --https-port PORT  the https.port that --self-signed writes (default 443 when http.port is 80, else 8443)
  --stop           stop every Wharf process this script started, embedded PostgreSQL and Redis too
  --status         show each component (running or stopped, pid, healthy or not); exit status 0 only
                   when every component is running and healthy
  --print-units    print the systemd units this configuration installs, and change nothing
  --uninstall      stop every component, remove the systemd units (or supervised processes) and
                   install.sh's records; data_volume, the logs and harbor.yml are kept
  --purge          with --uninstall: also delete data_volume (images, database, secrets), the storage
                   root and the log directory, and the '$SERVICE_USER' user when no other installation uses it
  -h, --help       show this help

Must run as root (or through sudo), except --help and --print-units.
EOF
}

# ---------------------------------------------------------------------------------------------------------------
# Messages

info() { printf '==> %s\n' "$*"; }
detail() { printf '    %s\n' "$*"; }
warn() { printf 'install.sh: warning: %s\n' "$*" >&2; }
die() {
  printf 'install.sh: error: %s\n' "$1" >&2
  shift
  local line
  for line in "$@"; do printf '    %s\n' "$line" >&2; done
  exit 1
}

# The last lines of a log file of the services, for error messages; read as the service user, which owns it.
log_tail() {
  local file=$1 lines=${2:-25}
  if as_service_user test -r "$file" 2>/dev/null; then
    printf -- '--- last lines of %s ---\n' "$file" >&2
    as_service_user tail -n "$lines" -- "$file" >&2 || true
    printf -- '---\n' >&2
  fi
}

# ---------------------------------------------------------------------------------------------------------------
# Arguments

ACTION=install
CONFIG="$ROOT/harbor.yml"
CONFIG_GIVEN=0
GRANT_ACCESS=0
SKIP_BUILD=0
SELF_SIGNED=0
HTTPS_PORT_GIVEN=''
PURGE=0
ORIGINAL_ARGS=("$@")

set_action() {
  [[ "$ACTION" == install ]] || die "$1 cannot be combined with --${ACTION}" 'run ./install.sh --help for the usage'
  ACTION=${1#--}
}

while (($# > 0)); do
  case "$1" in
    --config)
      (($# >= 2)) || die '--config needs a file name' 'run ./install.sh --help for the usage'
      CONFIG=$2
      CONFIG_GIVEN=1
      shift 2
      ;;
    --config=*)
      CONFIG=${1#--config=}
      CONFIG_GIVEN=1
      shift
      ;;
    --grant-access) GRANT_ACCESS=1 && shift ;;
    --skip-build) SKIP_BUILD=1 && shift ;;
    --self-signed) SELF_SIGNED=1 && shift ;;
    --https-port)
      (($# >= 2)) || die '--https-port needs a port number' 'run ./install.sh --help for the usage'
      HTTPS_PORT_GIVEN=$2
      shift 2
      ;;
    --https-port=*)
      HTTPS_PORT_GIVEN=${1#--https-port=}
      shift
      ;;
    --purge) PURGE=1 && shift ;;
    --stop | --status | --print-units | --uninstall) set_action "$1" && shift ;;
    -h | --help)
      usage
      exit 0
      ;;
    *) die "unknown argument: $1" 'run ./install.sh --help for the usage' ;;
  esac
done
[[ -n "$CONFIG" ]] || die '--config needs a file name'
CONFIG="$(realpath -m -- "$CONFIG")"
if ((PURGE)) && [[ "$ACTION" != uninstall ]]; then
  die '--purge deletes data and is only accepted with --uninstall' \
    'run ./install.sh --uninstall --purge to remove Wharf and its data, or --uninstall alone to keep the data'
fi
if ((SELF_SIGNED)) && [[ "$ACTION" != install ]]; then
  die "--self-signed cannot be combined with --$ACTION" 'run ./install.sh --help for the usage'
fi
if [[ -n "$HTTPS_PORT_GIVEN" ]]; then
  ((SELF_SIGNED)) || die '--https-port is only used with --self-signed' 'run ./install.sh --help for the usage'
  [[ "$HTTPS_PORT_GIVEN" =~ ^[1-9][0-9]{0,4}$ ]] && ((HTTPS_PORT_GIVEN <= 65535)) ||
    die "--https-port: expected a port number between 1 and 65535, got $HTTPS_PORT_GIVEN"
fi
readonly ACTION CONFIG CONFIG_GIVEN GRANT_ACCESS SKIP_BUILD SELF_SIGNED HTTPS_PORT_GIVEN PURGE

# What install.sh validates is what the services run with: WHARF__* overrides of this shell would apply to some
# steps and not to the services, so none applies.
for variable in $(compgen -e); do
  if [[ "$variable" == WHARF__* ]]; then
    warn "ignoring $variable: install.sh uses harbor.yml alone; put the setting in $CONFIG"
    unset "$variable"
  fi
done

if [[ "$ACTION" != print-units && $EUID -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    info 'root privileges are needed; running through sudo'
    args=("${ORIGINAL_ARGS[@]}")
    ((CONFIG_GIVEN)) || args+=(--config "$CONFIG")
    exec sudo -- "$ROOT/install.sh" "${args[@]}"
  fi
  die 'install.sh must run as root' 'run it as root, or install sudo and run it as a user allowed to use sudo'
fi

# ---------------------------------------------------------------------------------------------------------------
# Node.js, pnpm, dependencies and build

NODE=''

# True when version $1 is at least $2.
version_at_least() {
  [[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1)" == "$2" ]]
}

check_node() {
  local found version
  found="$(command -v node || true)"
  [[ -n "$found" ]] || die 'Node.js is not installed' \
    "Wharf needs Node.js $NODE_MIN_VERSION or newer: install it (for example NodeSource's Debian packages, or" \
    'the official binaries under /usr/local), make sure node is on the PATH, and run install.sh again'
  NODE="$(readlink -f -- "$found")"
  version="$("$NODE" -p 'process.versions.node')"
  version_at_least "$version" "$NODE_MIN_VERSION" || die "Node.js $version ($NODE) is too old" \
    "Wharf needs Node.js $NODE_MIN_VERSION or newer: upgrade it and run install.sh again"
}

build_workspace() {
  if ((SKIP_BUILD)); then
    [[ -f "$CLI" ]] || die "--skip-build: $CLI does not exist" 'run install.sh without --skip-build to build Wharf'
    return
  fi
  if ! command -v pnpm >/dev/null 2>&1; then
    info "installing $PNPM_PACKAGE (npm install -g $PNPM_PACKAGE)"
    command -v npm >/dev/null 2>&1 || die 'npm is not installed, so pnpm cannot be installed' \
      "install npm (it comes with Node.js) or pnpm 12 yourself, then run install.sh again"
    npm install -g "$PNPM_PACKAGE" || die "npm install -g $PNPM_PACKAGE failed (see above)" \
      'check the network access to the npm registry, or install pnpm 12 yourself, then run install.sh again'
  fi
  info 'installing the workspace dependencies (pnpm install --frozen-lockfile)'
  (cd -- "$ROOT" && pnpm install --frozen-lockfile) || die 'pnpm install failed (see above)' \
    'check the network access to the npm registry; an "outdated lockfile" error means pnpm-lock.yaml does not' \
    'match the package.json files of this checkout'
  info 'building Wharf (pnpm build)'
  (cd -- "$ROOT" && pnpm build) || die 'pnpm build failed (see above)' \
    'this checkout does not build: use a released version, or fix the errors shown'
}

# Runs the wharf command as the invoking user (root): only on harbor.yml itself (verify-config, install-settings),
# never on anything under data_volume (service_cli does that).
wharf_cli() {
  "$NODE" "$CLI" "$@"
}

# ---------------------------------------------------------------------------------------------------------------
# harbor.yml

# install.sh's record that it generated harbor_admin_password of a harbor.yml: the password's sha256, in $STATE_ROOT
# (root's alone), named after the file's path. The password itself is kept in harbor.yml only.
generated_admin_record() {
  printf '%s/generated-admin-%s' "$STATE_ROOT" "$(printf '%s' "$CONFIG" | sha256sum | cut -c 1-16)"
}

random_alnum() {
  local length=$1 out=''
  while ((${#out} < length)); do
    out+="$(head -c 64 /dev/urandom | base64 -w 0 | tr -dc 'A-Za-z0-9')"
  done
  printf '%s' "${out:0:length}"
}

is_host_name() {
  [[ ${#1} -le 253 && "$1" =~ ^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$ ]]
}

# The name clients use to reach this host: its fully qualified name, else its first address, else its name.
detect_hostname() {
  local fqdn address short
  fqdn="$(hostname -f 2>/dev/null || true)"
  if [[ "$fqdn" == *.* && "$fqdn" != localhost* ]] && is_host_name "$fqdn"; then
    printf '%s' "$fqdn"
    return
  fi
  address="$(hostname -I 2>/dev/null | tr ' ' '\n' | grep -E '^[0-9]+(\.[0-9]+){3}$' | grep -v '^127\.' | head -n 1 || true)"
  if [[ -n "$address" ]]; then
    printf '%s' "$address"
    return
  fi
  short="$(hostname 2>/dev/null || true)"
  if is_host_name "$short"; then printf '%s' "$short"; else printf '127.0.0.1'; fi
}

create_config() {
  local example="$ROOT/harbor.yml.example" host admin db_password
  [[ -r "$example" ]] || die "$CONFIG does not exist, and neither does $example to create it from"
  mkdir -p -- "$(dirname -- "$CONFIG")"
  host="$(detect_hostname)"
  # Harbor's password policy: 8 or more characters with an upper-case letter, a lower-case letter and a digit.
  admin="Wh1$(random_alnum 21)"
  db_password="$(random_alnum 32)"
  local temporary
  temporary="$(umask 077 && mktemp -- "$CONFIG.XXXXXX")" || die "cannot create a file next to $CONFIG"
  # The generated passwords reach awk through its environment, never its arguments (which every user can list).
  if ! INSTALL_HOST=$host INSTALL_ADMIN=$admin INSTALL_DB_PASSWORD=$db_password awk '
    /^hostname: / { print "hostname: " ENVIRON["INSTALL_HOST"]; hosts++; next }
    /^harbor_admin_password: / { print "harbor_admin_password: " ENVIRON["INSTALL_ADMIN"]; admins++; next }
    /^database:/ { in_database = 1; print; next }
    in_database && /^[^ #]/ { in_database = 0 }
    in_database && /^  password: / { print "  password: " ENVIRON["INSTALL_DB_PASSWORD"]; passwords++; next }
    { print }
    END { exit !(hosts == 1 && admins == 1 && passwords == 1) }
  ' "$example" >"$temporary"; then
    rm -f -- "$temporary"
    die "could not create $CONFIG from $example (its hostname, harbor_admin_password or database.password line has changed)" \
      "copy it by hand, set those three keys, and run install.sh again"
  fi
  mv -- "$temporary" "$CONFIG"
  (umask 077 && printf '%s' "$admin" | sha256sum | cut -d ' ' -f 1 >"$(generated_admin_record)")
  info "created $CONFIG from harbor.yml.example (mode 0600)"
  detail "hostname: $host (the name clients use to reach Wharf)"
  detail "harbor_admin_password: generated; it is kept in $CONFIG, and every run of install.sh shows it until"
  detail '                       the admin has changed it'
  detail 'database.password: generated (the embedded PostgreSQL)'
  detail "data_volume: /data/wharf, log.local.location: /var/log/wharf, http.port: 8080 (the example's values)"
  detail "Edit $CONFIG to change any of them (storage, ports, external database or Redis), then run ./install.sh again."
}

verify_config() {
  info "checking $CONFIG (wharf verify-config)"
  if ! wharf_cli verify-config "$CONFIG"; then
    die "$CONFIG is invalid (the problems are listed above); nothing was changed" \
      "fix each key named above (harbor.yml.example documents every key), then run install.sh again"
  fi
  # It holds the admin and database passwords, and root acts on what it says.
  local mode
  mode="$(stat -c %a -- "$CONFIG")"
  if (((8#$mode) & 8#077)); then
    warn "$CONFIG has mode $mode: other users can read or change it, and it holds passwords (chmod 600 $CONFIG)"
  fi
}

declare -A SETTING=()

# A directory of harbor.yml as an absolute path without ".", ".." or symbolic links (realpath -m), so that what is
# checked is what is used. Its name goes into postgresql.conf, redis.conf and unit files: quotes, backslashes and
# control characters are refused.
directory_setting() {
  local key=$1 value=$2 normalised
  if [[ "$value" == *[\'\"\\]* || "$value" =~ [[:cntrl:]] ]]; then
    die "$key ($value) contains a quote, a backslash or a control character, which Wharf cannot use in a path" \
      "set $key in $CONFIG to a path without them, then run install.sh again"
  fi
  [[ "$value" == /* ]] || die "$key must be an absolute path, got $value" "set $key in $CONFIG to an absolute path"
  normalised="$(realpath -m -- "$value")" || die "cannot resolve $key ($value)"
  if [[ "$normalised" == *[\'\"\\]* || "$normalised" =~ [[:cntrl:]] ]]; then
    die "$key ($value) leads to $normalised, which contains a quote, a backslash or a control character" \
      "set $key in $CONFIG to a path without them, then run install.sh again"
  fi
  printf '%s' "$normalised"
}

load_settings() {
  local output line name
  output="$(wharf_cli install-settings --config "$CONFIG" --with-secrets)" ||
    die "cannot read the settings of $CONFIG (see above)" "check it with: node $CLI verify-config $CONFIG"
  while IFS= read -r line; do
    [[ "$line" == *=* ]] || continue
    name=${line%%=*}
    SETTING[$name]=${line#*=}
  done <<<"$output"
  for name in HOSTNAME HTTP_HOST HTTP_PORT DATA_VOLUME LOG_LOCATION LOG_ROTATE_SIZE LOG_ROTATE_COUNT \
    DATABASE_EXTERNAL DATABASE_PORT DATABASE_NAME DATABASE_USER REDIS_EXTERNAL REDIS_PORT; do
    [[ -n "${SETTING[$name]:-}" ]] || die "wharf install-settings did not give $name" 'the build is incomplete: run install.sh without --skip-build'
  done
  DV="$(directory_setting data_volume "${SETTING[DATA_VOLUME]}")"
  LOG_DIR="$(directory_setting log.local.location "${SETTING[LOG_LOCATION]}")"
  if [[ -n "${SETTING[STORAGE_ROOT]:-}" ]]; then
    SETTING[STORAGE_ROOT]="$(directory_setting storage_service.filesystem.rootdirectory "${SETTING[STORAGE_ROOT]}")"
  fi
  RUN_DIR="$DV/run"
  PGDATA="$DV/database"
  PG_SOCKET_DIR="$RUN_DIR/postgresql"
  REDIS_DIR="$DV/redis"
  RUN_CONFIG="$DV/config/harbor.yml"
  EMBEDDED_DB=0
  EMBEDDED_REDIS=0
  [[ "${SETTING[DATABASE_EXTERNAL]}" == true ]] || EMBEDDED_DB=1
  [[ "${SETTING[REDIS_EXTERNAL]}" == true ]] || EMBEDDED_REDIS=1
}

# ---------------------------------------------------------------------------------------------------------------
# The service user and what it must reach

SYSTEMD=0
[[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1 && SYSTEMD=1

ensure_service_user() {
  if ! getent passwd "$SERVICE_USER" >/dev/null; then
    info "creating the system user $SERVICE_USER"
    local nologin=/usr/sbin/nologin
    [[ -x "$nologin" ]] || nologin=/bin/false
    useradd --system --user-group --no-create-home --home-dir "$DV" --shell "$nologin" \
      --comment 'Wharf container registry' "$SERVICE_USER" || die "could not create the user $SERVICE_USER (see above)"
  fi
}

# Runs a command as the service user, with a clean environment, from / (which it can always read), without the
# install locks. Every read and write under data_volume and log.local.location goes through it: those directories
# belong to the service user, so root must never open a path there (it could be a link to anywhere).
as_service_user() {
  (cd / && exec runuser -u "$SERVICE_USER" -- env -i PATH="$SERVICE_PATH" LANG=C.UTF-8 HOME="$DV" "$@" 8<&- 9<&-)
}

# The wharf command, as the service user.
service_cli() {
  as_service_user "$NODE" "$CLI" "$@"
}

# Whether FILE, read as the service user, holds exactly what the standard input gives.
service_file_matches() {
  as_service_user cmp -s -- - "$1"
}

# Replaces FILE, as the service user, with the standard input: written to a new private file next to it, then
# renamed over it, so a reader sees the old or the new content and never a part of it.
service_file_replace() {
  # shellcheck disable=SC2016 # expanded by sh, as the service user
  as_service_user sh -c 'umask 077
    t=$(mktemp -- "$1.XXXXXX") || exit 1
    if cat >"$t" && chmod "$2" -- "$t" && mv -f -- "$t" "$1"; then exit 0; fi
    rm -f -- "$t"
    exit 1' sh "$1" "$2"
}

# A directory under data_volume or log.local.location, made by the service user with the given mode.
service_subdirectory() {
  local dir=$1 mode=$2
  as_service_user install -d -m "$mode" -- "$dir" 2>/dev/null || die "the $SERVICE_USER user cannot create or use $dir" \
    "it must be a directory the $SERVICE_USER user owns (an earlier run as root may have left it to root): run" \
    "chown -R $SERVICE_USER:$SERVICE_USER $dir, or remove it if it is not Wharf's, then run install.sh again"
}

# Whether the service user may traverse a directory, judged from its owner, group, mode and ACL (a check by
# running as the user would also fail below any directory that blocks it, so it could not list them all).
may_traverse() {
  local dir=$1 owner group mode
  read -r owner group mode < <(stat -c '%U %G %a' -- "$dir")
  mode=$((8#$mode))
  if [[ "$owner" == "$SERVICE_USER" ]]; then
    ((mode & 8#100))
    return
  fi
  if id -nG "$SERVICE_USER" | tr ' ' '\n' | grep -qxF -- "$group"; then
    ((mode & 8#010))
    return
  fi
  ((mode & 8#001)) && return 0
  command -v getfacl >/dev/null 2>&1 && getfacl -cp -- "$dir" 2>/dev/null | grep -q "^user:$SERVICE_USER:..x"
}

# The directories from / down to $1 (included) that the service user cannot traverse.
blocked_directories() {
  local path=$1 current='' part
  local -a parts
  IFS=/ read -r -a parts <<<"${path#/}"
  may_traverse / || printf '%s\n' /
  for part in "${parts[@]}"; do
    [[ -n "$part" ]] || continue
    current="$current/$part"
    [[ -d "$current" ]] || break
    may_traverse "$current" || printf '%s\n' "$current"
  done
}

grant_traverse() {
  local dir
  local -a for_everyone=()
  for dir in "$@"; do
    if command -v setfacl >/dev/null 2>&1 && setfacl -m "u:$SERVICE_USER:x" -- "$dir" 2>/dev/null; then
      detail "setfacl -m u:$SERVICE_USER:x $dir"
    else
      chmod o+x -- "$dir"
      detail "chmod o+x $dir (every user of this host may now traverse it)"
      for_everyone+=("$dir")
    fi
  done
  if ((${#for_everyone[@]} > 0)); then
    warn "without ACLs (setfacl, package acl), these directories became traversable by every user, not only" \
      "$SERVICE_USER: ${for_everyone[*]} (chmod o-x undoes it; Wharf then needs another way in)"
  fi
}

# The service user must be able to reach every path given; --grant-access fixes what a missing traverse
# permission blocks, anything else is explained.
ensure_reachable() {
  local -a blocked=()
  local path dir
  for path in "$@"; do
    while IFS= read -r dir; do
      [[ -n "$dir" ]] && blocked+=("$dir")
    done < <(blocked_directories "$path")
  done
  ((${#blocked[@]} > 0)) || return 0
  mapfile -t blocked < <(printf '%s\n' "${blocked[@]}" | sort -u)
  if ((GRANT_ACCESS)); then
    info "letting the $SERVICE_USER user traverse the directories that lead to Wharf (--grant-access)"
    grant_traverse "${blocked[@]}"
    return
  fi
  die "the $SERVICE_USER user, which runs the services, cannot reach ${blocked[*]}" \
    "Wharf's services run as $SERVICE_USER and need to traverse: ${blocked[*]}" \
    "install from a directory it can reach (for example a copy of this checkout in /opt/wharf), or run" \
    "./install.sh --grant-access to give $SERVICE_USER traverse (x) permission on exactly these directories"
}

check_checkout_access() {
  ensure_reachable "$ROOT" "$NODE"
  if ! runuser -u "$SERVICE_USER" -- test -r "$CLI" || ! runuser -u "$SERVICE_USER" -- test -x "$NODE"; then
    die "the $SERVICE_USER user cannot read $CLI or run $NODE" \
      "the files of this checkout must be readable by other users (chmod -R o+rX $ROOT), or install Wharf" \
      "from a directory that is, for example /opt/wharf"
  fi
  if ! as_service_user "$NODE" "$CLI" --version >/dev/null 2>&1; then
    die "the $SERVICE_USER user cannot run $CLI" \
      "some files of this checkout (node_modules, dist) are not readable by other users: run chmod -R o+rX $ROOT," \
      "or install Wharf from a directory whose files are, for example /opt/wharf"
  fi
}

# Directories Wharf takes over (it owns them and sets their mode) must be its own, never a system directory.
refuse_system_directory() {
  local dir=$1 key=$2
  case "$dir" in
    / | /bin | /boot | /dev | /etc | /home | /lib | /lib32 | /lib64 | /libx32 | /media | /mnt | /opt | /root | /run | \
      /sbin | /srv | /tmp | /usr | /var | /var/backups | /var/cache | /var/lib | /var/local | /var/lock | /var/log | \
      /var/mail | /var/opt | /var/run | /var/spool | /var/tmp | /bin/* | /boot/* | /dev/* | /etc/* | /lib/* | \
      /lib32/* | /lib64/* | /libx32/* | /proc | /proc/* | /run/* | /sbin/* | /sys | /sys/* | /usr/*)
      die "$key is $dir, a system directory (or one inside it) that Wharf would take over" \
        "set $key in $CONFIG to a directory of Wharf's own, such as /data/wharf or /var/log/wharf"
      ;;
  esac
}

# Every directory that leads to a directory root hands over must be root's and writable by root alone (or by a
# system group, as /var/log is on Ubuntu; others may write only with the sticky bit, and never the parent of the
# directory itself): otherwise another user could swap the directory for a link between the checks and the chown.
check_root_chain() {
  local dir=$1 key=$2 parent current='' part owner gid mode
  local -a parts
  parent="$(dirname -- "$dir")"
  IFS=/ read -r -a parts <<<"$parent"
  for part in '' "${parts[@]}"; do
    [[ -z "$part" && -n "$current" ]] && continue
    current="${current%/}/$part"
    read -r owner gid mode < <(stat -c '%u %g %a' -- "$current")
    mode=$((8#$mode))
    if [[ "$owner" != 0 ]] || { ((mode & 8#020)) && ((gid >= 1000)); } ||
      { ((mode & 8#002)) && { [[ "$current" == "$parent" ]] || ((!(mode & 8#1000))); }; }; then
      die "$key is $dir, but $current, which leads to it, belongs to another user than root or others may change it" \
        "Wharf's directories must lie in directories that only root can change: choose another $key in $CONFIG," \
        "or make $current root's (chown root: $current; chmod go-w $current), then run install.sh again"
    fi
  done
}

# Creates a directory of Wharf's own (data_volume, log.local.location, the storage root) and hands it to the
# service user with the given mode. An existing directory that belongs to someone else is taken over (chown -R)
# only when it is empty or holds the marker install.sh leaves in the directories it made.
take_directory() {
  local dir=$1 mode=$2 key=$3 owner
  refuse_system_directory "$dir" "$key"
  check_root_chain "$dir" "$key"
  if [[ ! -e "$dir" && ! -L "$dir" ]]; then
    mkdir -m 0700 -- "$dir" || die "cannot create $dir ($key)"
    chown -h -- "$SERVICE_USER:$SERVICE_USER" "$dir"
  fi
  [[ -d "$dir" && ! -L "$dir" ]] || die "$key is $dir, which is not a directory" "set $key in $CONFIG to a directory"
  owner="$(stat -c %U -- "$dir")"
  if [[ "$owner" != "$SERVICE_USER" ]]; then
    if [[ -n "$(find "$dir" -mindepth 1 -maxdepth 1 -print -quit)" ]] && [[ ! -f "$dir/$MARKER" || -L "$dir/$MARKER" ]]; then
      die "$key is $dir, which belongs to $owner and holds files that Wharf did not make there" \
        "Wharf takes over only an empty directory or one it made: set $key in $CONFIG to a new or empty directory;" \
        "if $dir does hold Wharf's files (from a copy or an older installation), create the marker file" \
        "$dir/$MARKER (touch $dir/$MARKER) and run install.sh again: every file in $dir becomes $SERVICE_USER's"
    fi
    info "handing $dir over to the $SERVICE_USER user (chown -R)"
    chown -R -P -- "$SERVICE_USER:$SERVICE_USER" "$dir"
  fi
  chmod -- "$mode" "$dir"
  # shellcheck disable=SC2016 # expanded by sh, as the service user
  as_service_user sh -c '[ -f "$1" ] || printf "%s\n" "Made by Wharf'"'"'s install.sh: it may take this directory over." >"$1"' \
    sh "$dir/$MARKER" || die "the $SERVICE_USER user cannot write to $dir"
}

# Where a directory of Wharf's own comes from: inside data_volume the service user makes it, elsewhere root does.
wharf_directory() {
  local dir=$1 mode=$2 key=$3
  if [[ "$dir" == "$DV" ]]; then return; fi
  if [[ "$dir" == "$DV"/* ]]; then
    service_subdirectory "$dir" "$mode"
  else
    take_directory "$dir" "$mode" "$key"
  fi
}

prepare_directories() {
  local dir parent
  local -a parents=()
  refuse_system_directory "$DV" data_volume
  refuse_system_directory "$LOG_DIR" log.local.location
  if [[ -n "${SETTING[STORAGE_ROOT]:-}" ]]; then
    refuse_system_directory "${SETTING[STORAGE_ROOT]}" storage_service.filesystem.rootdirectory
  fi
  # Missing parents of the directories root makes are created readable by all (mkdir -p); existing ones are left as
  # they are. Directories inside data_volume are the service user's to make.
  for dir in "$DV" "$LOG_DIR" ${SETTING[STORAGE_ROOT]:+"${SETTING[STORAGE_ROOT]}"}; do
    [[ "$dir" == "$DV"/* ]] && continue
    parent="$(dirname -- "$dir")"
    (umask 022 && mkdir -p -- "$parent")
    parents+=("$parent")
  done
  ensure_reachable "${parents[@]}"
  take_directory "$DV" 0750 data_volume
  wharf_directory "$LOG_DIR" 0750 log.local.location
  if [[ -n "${SETTING[STORAGE_ROOT]:-}" ]]; then
    wharf_directory "${SETTING[STORAGE_ROOT]}" 0750 storage_service.filesystem.rootdirectory
  fi
  service_subdirectory "$DV/config" 0700
  service_subdirectory "$RUN_DIR" 0700
  if ((EMBEDDED_DB)); then
    service_subdirectory "$PGDATA" 0700
    service_subdirectory "$PG_SOCKET_DIR" 0700
  fi
  if ((EMBEDDED_REDIS)); then service_subdirectory "$REDIS_DIR" 0700; fi
  # Stamps of older versions of install.sh, which kept them here; they now live in $STATE_DIR.
  as_service_user rm -f -- "$RUN_DIR/core.fingerprint" "$RUN_DIR/jobservice.fingerprint"
}

# The services read a copy of harbor.yml that only they can read, so the file itself may stay wherever and
# however the administrator keeps it. Root reads harbor.yml; the service user writes the copy.
install_config_copy() {
  if service_file_matches "$RUN_CONFIG" <"$CONFIG"; then return; fi
  service_file_replace "$RUN_CONFIG" 0600 <"$CONFIG" || die "could not write $RUN_CONFIG as the $SERVICE_USER user"
}

prepare_secrets() {
  info "creating the secrets under $DV/secret (wharf prepare; existing ones are kept)"
  local output
  output="$(service_cli prepare --config "$RUN_CONFIG" 2>&1)" ||
    die 'wharf prepare failed' "$output"
  while IFS= read -r line; do detail "$line"; done <<<"$output"
}

# ---------------------------------------------------------------------------------------------------------------
# Processes: supervised with pid files, or systemd units

# The pid in a pid file (read as the service user, which writes them) when that process is alive and belongs to
# the service user: root signals no other process on the word of a file the service user controls.
live_pid() {
  local file=$1 pid
  pid="$(as_service_user cat -- "$file" 2>/dev/null | head -c 32 | tr -dc '0-9')" || return 1
  [[ -n "$pid" && ${#pid} -le 10 ]] && kill -0 "$pid" 2>/dev/null || return 1
  [[ "$(stat -c %U "/proc/$pid" 2>/dev/null)" == "$SERVICE_USER" ]] || return 1
  printf '%s' "$pid"
}

# The pid of the supervisor of a component, when it runs.
supervisor_pid() {
  local name=$1 pid cmdline
  pid="$(live_pid "$RUN_DIR/$name.supervisor.pid")" || return 1
  cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
  [[ "$cmdline" == *" supervise "*"--name $name "* ]] || return 1
  printf '%s' "$pid"
}

child_pid() {
  live_pid "$RUN_DIR/$1.pid"
}

wait_gone() {
  local pid=$1 seconds=$2 i
  for ((i = 0; i < seconds * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  return 1
}

stop_supervised() {
  local name=$1 timeout=$2 pid child
  if pid="$(supervisor_pid "$name")"; then
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_gone "$pid" $((timeout + 15)); then
      warn "the supervisor of $name (pid $pid) did not stop; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  # A process whose supervisor died (killed by hand, or by the OOM killer) is still ours to stop.
  if child="$(child_pid "$name")"; then
    kill -TERM "$child" 2>/dev/null || true
    wait_gone "$child" "$timeout" || kill -KILL "$child" 2>/dev/null || true
  fi
  as_service_user rm -f -- "$RUN_DIR/$name.pid" "$RUN_DIR/$name.supervisor.pid"
}

# Whether core listens on a port below 1024, which needs CAP_NET_BIND_SERVICE.
needs_low_port() {
  local http=${SETTING[HTTP_PORT]} https=${SETTING[HTTPS_PORT]:-1024}
  ((http < 1024 || https < 1024))
}

# start_supervised NAME STOP_SIGNAL STOP_TIMEOUT -- COMMAND...
start_supervised() {
  local name=$1 signal=$2 timeout=$3
  shift 4
  stop_supervised "$name" "$timeout"
  local -a caps=()
  if [[ "$name" == core ]] && needs_low_port; then
    # Ports below 1024 need this one capability; the process runs unprivileged otherwise.
    caps=(--inh-caps=+net_bind_service --ambient-caps=+net_bind_service)
  fi
  local out="$RUN_DIR/$name.supervisor.out"
  # What an earlier supervisor left (a file, or whatever the service user put there) goes first; the new file is
  # opened by the supervisor's shell once it runs as the service user, never by root.
  as_service_user rm -f -- "$out"
  (
    cd /
    # The supervisor outlives this script; it must not hold the install locks.
    exec 8<&- 9<&-
    # shellcheck disable=SC2016 # expanded by sh, as the service user
    exec setsid setpriv --reuid="$SERVICE_USER" --regid="$SERVICE_USER" --init-groups --no-new-privs "${caps[@]}" -- \
      env -i PATH="$SERVICE_PATH" LANG=C.UTF-8 HOME="$DV" NODE_ENV=production \
      sh -c 'out=$1; shift; exec "$@" >"$out" 2>&1' sh "$out" \
      "$NODE" "$CLI" supervise --name "$name" --run-dir "$RUN_DIR" --log-file "$LOG_DIR/$name.log" \
      --rotate-size "${SETTING[LOG_ROTATE_SIZE]}" --rotate-count "${SETTING[LOG_ROTATE_COUNT]}" \
      --stop-signal "$signal" --stop-timeout "$timeout" -- "$@" </dev/null
  ) &
  local i
  for ((i = 0; i < 100; i++)); do
    if supervisor_pid "$name" >/dev/null && child_pid "$name" >/dev/null; then return 0; fi
    sleep 0.1
  done
  log_tail "$out"
  log_tail "$LOG_DIR/$name.log"
  die "could not start $name under its supervisor (see above)"
}

# Whether a component runs: its supervisor, or its systemd unit.
component_running() {
  local name=$1
  if ((SYSTEMD)); then
    systemctl is-active --quiet "wharf-$name.service"
  else
    supervisor_pid "$name" >/dev/null
  fi
}

component_pid() {
  local name=$1 pid
  if ((SYSTEMD)); then
    pid="$(systemctl show --property MainPID --value "wharf-$name.service" 2>/dev/null || true)"
    [[ -n "$pid" && "$pid" != 0 ]] || return 1
    printf '%s' "$pid"
  else
    child_pid "$name"
  fi
}

component_log() {
  if ((SYSTEMD)); then printf 'journalctl -u wharf-%s' "$1"; else printf '%s' "$LOG_DIR/$1.log"; fi
}

show_component_log() {
  if ((SYSTEMD)); then
    journalctl -u "wharf-$1.service" -n 25 --no-pager >&2 || true
  else
    log_tail "$LOG_DIR/$1.log"
  fi
}

port_in_use() {
  [[ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]]
}

port_user() {
  ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'users:(("[^"]*",pid=[0-9]*' | head -n 1 |
    sed -E 's/users:\(\("([^"]*)",pid=([0-9]*)/\1 (pid \2)/' || true
}

require_free_port() {
  local port=$1 key=$2
  if port_in_use "$port"; then
    local user
    user="$(port_user "$port")"
    die "port $port ($key in harbor.yml) is already in use${user:+ by $user}" \
      "stop the program that listens on it, or set $key in $CONFIG to a free port, then run install.sh again"
  fi
}

# Content hash of what a Node service runs: the build, the dependencies, Node itself and its configuration (harbor.yml,
# of which the services run an exact copy). A service whose fingerprint has not changed since it was started does
# not need a restart.
build_fingerprint() {
  {
    "$NODE" --version
    cat -- "$CONFIG"
    (cd -- "$ROOT" && find apps packages -path '*/node_modules' -prune -o -path '*/dist/*' -type f \
      ! -name '*.tsbuildinfo' -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
    sha256sum -- "$ROOT/pnpm-lock.yaml" 2>/dev/null || true
  } | sha256sum | cut -d ' ' -f 1
}

# ---------------------------------------------------------------------------------------------------------------
# Embedded PostgreSQL

PG_BIN=''

readonly POLICY_RC_D=/usr/sbin/policy-rc.d
POLICY_RC_D_WRITTEN=0

# Removes the policy-rc.d that apt_install wrote, also when install.sh stops on an error.
remove_policy_rc_d() {
  if ((POLICY_RC_D_WRITTEN)); then
    rm -f -- "$POLICY_RC_D"
    POLICY_RC_D_WRITTEN=0
  fi
}
trap remove_policy_rc_d EXIT

# The system services a Debian package brings, which Wharf never uses: it runs its own instances.
package_services() {
  case "$1" in
    postgresql) printf '%s\n' postgresql.service ;;
    redis-server) printf '%s\n' redis-server.service ;;
  esac
}

# Installs a Debian package (postgresql or redis-server) without letting it start or enable the system's own
# instance: a policy-rc.d that forbids every start is in place during the installation, and the units the package
# enabled are disabled afterwards.
apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "$1 is needed but this is not a Debian or Ubuntu host (no apt-get)" \
    "install $1 yourself, or set ${2} in $CONFIG, then run install.sh again"
  info "installing the Debian package $1 (its own system service is neither started nor enabled)"
  export DEBIAN_FRONTEND=noninteractive
  if [[ -e "$POLICY_RC_D" || -L "$POLICY_RC_D" ]]; then
    warn "$POLICY_RC_D exists and is left as it is: it decides whether Debian starts the service of $1"
  else
    printf '#!/bin/sh\n# Written by install.sh of Wharf while it installs %s; it removes this file when it ends.\nexit 101\n' \
      "$1" >"$POLICY_RC_D"
    chmod 0755 -- "$POLICY_RC_D"
    POLICY_RC_D_WRITTEN=1
  fi
  if ! apt-get install -y --no-install-recommends "$1"; then
    if ! { apt-get update && apt-get install -y --no-install-recommends "$1"; }; then
      remove_policy_rc_d
      die "apt-get install $1 failed (see above)" "install $1 yourself, or set $2 in $CONFIG"
    fi
  fi
  remove_policy_rc_d
  local unit
  if ((SYSTEMD)); then
    while IFS= read -r unit; do
      if systemctl is-enabled --quiet "$unit" 2>/dev/null || systemctl is-active --quiet "$unit" 2>/dev/null; then
        systemctl disable --now --quiet "$unit" 2>/dev/null || true
        detail "disabled $unit, which $1 installed: Wharf runs its own instance"
      fi
    done < <(package_services "$1")
  fi
}

# The major version of the embedded database, from PG_VERSION read as the service user (or as the caller when
# install.sh runs unprivileged, for --print-units); fails when there is none.
pgdata_version() {
  local version
  if ((EUID == 0)); then
    version="$(as_service_user cat -- "$PGDATA/PG_VERSION" 2>/dev/null | head -c 16 | tr -dc '0-9')" || return 1
  else
    version="$(head -c 16 -- "$PGDATA/PG_VERSION" 2>/dev/null | tr -dc '0-9')" || return 1
  fi
  [[ -n "$version" ]] || return 1
  printf '%s' "$version"
}

find_pg_bin() {
  local version
  if version="$(pgdata_version)"; then
    PG_BIN="/usr/lib/postgresql/$version/bin"
    [[ -x "$PG_BIN/postgres" ]] || die "the embedded database in $PGDATA was made by PostgreSQL $version, which is not installed" \
      "install it (apt-get install postgresql-$version), or upgrade the data with pg_upgrade, then run install.sh again"
    return
  fi
  local newest=''
  local candidate
  for candidate in /usr/lib/postgresql/*/bin/postgres; do
    if [[ -z "$newest" ]] || version_at_least "$(basename -- "$(dirname -- "$(dirname -- "$candidate")")")" \
      "$(basename -- "$(dirname -- "$(dirname -- "$newest")")")"; then
      newest=$candidate
    fi
  done
  [[ -n "$newest" ]] || return 1
  PG_BIN="$(dirname -- "$newest")"
}

pg_settings() {
  cat <<EOF
# Written by install.sh on every run from harbor.yml; change harbor.yml and run install.sh instead.
listen_addresses = '127.0.0.1'
port = ${SETTING[DATABASE_PORT]}
unix_socket_directories = '$PG_SOCKET_DIR'
unix_socket_permissions = 0700
password_encryption = 'scram-sha-256'
max_connections = 200
logging_collector = off
log_destination = 'stderr'
log_line_prefix = '%m [%p] %q%u@%d '
EOF
}

pg_hba() {
  cat <<'EOF'
# Written by install.sh. The wharf system user administers the cluster through the private socket (peer);
# everyone else needs a password, and only from this host.
local   all   postgres                   peer map=admin
local   all   all                        scram-sha-256
host    all   all        127.0.0.1/32    scram-sha-256
EOF
}

# Writes a file of the service user (as the service user) when its content differs; true when it changed.
write_service_file() {
  local file=$1 content=$2 mode=${3:-0600}
  if printf '%s\n' "$content" | service_file_matches "$file"; then return 1; fi
  printf '%s\n' "$content" | service_file_replace "$file" "$mode" ||
    die "could not write $file as the $SERVICE_USER user"
  return 0
}

psql_admin() {
  as_service_user "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCKET_DIR" -p "${SETTING[DATABASE_PORT]}" \
    -U postgres -d postgres "$@"
}

sql_literal() {
  local quote="'"
  printf "'%s'" "${1//$quote/$quote$quote}"
}

is_identifier() {
  [[ "$1" =~ ^[a-z_][a-z0-9_]{0,62}$ ]]
}

# Whether the application user logs in with database.password over TCP, as the services do. The password goes
# through a password file the service user writes from the standard input, never through arguments.
pg_password_works() {
  local passfile password=${SETTING[DATABASE_PASSWORD]}
  password=${password//\\/\\\\}
  password=${password//:/\\:}
  # shellcheck disable=SC2016 # expanded by sh, as the service user
  passfile="$(printf '127.0.0.1:%s:%s:%s:%s\n' "${SETTING[DATABASE_PORT]}" "${SETTING[DATABASE_NAME]}" \
    "${SETTING[DATABASE_USER]}" "$password" |
    as_service_user sh -c 'umask 077; t=$(mktemp -- "$1/.pgpass.XXXXXX") && cat >"$t" && printf %s "$t"' \
      sh "$RUN_DIR")" || die "the $SERVICE_USER user cannot write to $RUN_DIR"
  local status=0
  as_service_user env PGPASSFILE="$passfile" "$PG_BIN/psql" -X -q -w -h 127.0.0.1 -p "${SETTING[DATABASE_PORT]}" \
    -U "${SETTING[DATABASE_USER]}" -d "${SETTING[DATABASE_NAME]}" -c 'SELECT 1' >/dev/null 2>&1 || status=$?
  as_service_user rm -f -- "$passfile"
  return "$status"
}

wait_for_postgresql() {
  local i
  for ((i = 0; i < PG_READY_TIMEOUT * 2; i++)); do
    if as_service_user "$PG_BIN/pg_isready" -q -h "$PG_SOCKET_DIR" -p "${SETTING[DATABASE_PORT]}"; then return 0; fi
    sleep 0.5
  done
  show_component_log postgresql
  stop_component postgresql
  die "the embedded PostgreSQL did not become ready within ${PG_READY_TIMEOUT}s (it was stopped again)" \
    "its log is $(component_log postgresql); fix what it reports and run install.sh again"
}

setup_postgresql() {
  local user=${SETTING[DATABASE_USER]} database=${SETTING[DATABASE_NAME]}
  if ! is_identifier "$user" || ! is_identifier "$database"; then
    die "unexpected database or user name: $database, $user"
  fi
  if ! find_pg_bin; then
    apt_install postgresql external_database
    find_pg_bin || die 'PostgreSQL is installed but no /usr/lib/postgresql/<version>/bin/postgres was found'
  fi
  local socket="$PG_SOCKET_DIR/.s.PGSQL.${SETTING[DATABASE_PORT]}"
  ((${#socket} < 100)) || die "data_volume $DV is too long a path for PostgreSQL's socket ($socket)" \
    'choose a shorter data_volume in harbor.yml'

  if ! pgdata_version >/dev/null; then
    if [[ -n "$(as_service_user ls -A -- "$PGDATA")" ]]; then
      die "$PGDATA is not empty but holds no PostgreSQL data directory" \
        'move its content away (it is not a database Wharf made) and run install.sh again'
    fi
    info "creating the embedded PostgreSQL database in $PGDATA ($("$PG_BIN/postgres" --version))"
    local initdb_log="$LOG_DIR/postgresql-initdb.log"
    # initdb and its log file are the service user's: the log is opened by the shell that runs as that user.
    # shellcheck disable=SC2016 # expanded by sh, as the service user
    if ! as_service_user sh -c 'log=$1; shift; exec "$@" >"$log" 2>&1' sh "$initdb_log" \
      "$PG_BIN/initdb" -D "$PGDATA" -U postgres --auth-local=peer --auth-host=scram-sha-256 \
      --encoding=UTF8 --locale=C; then
      log_tail "$initdb_log"
      die "initdb failed; its output is in $initdb_log" "fix what it reports, empty $PGDATA and run install.sh again"
    fi
  fi
  local changed=0
  write_service_file "$PGDATA/wharf.conf" "$(pg_settings)" && changed=1
  write_service_file "$PGDATA/pg_hba.conf" "$(pg_hba)" && changed=1
  write_service_file "$PGDATA/pg_ident.conf" "admin  $SERVICE_USER  postgres" && changed=1
  if ! as_service_user grep -qxF "include 'wharf.conf'" "$PGDATA/postgresql.conf"; then
    # shellcheck disable=SC2016 # expanded by sh, as the service user
    printf "\n# Settings from harbor.yml, written by install.sh.\ninclude 'wharf.conf'\n" |
      as_service_user sh -c 'cat >>"$1"' sh "$PGDATA/postgresql.conf" ||
      die "could not add the include of wharf.conf to $PGDATA/postgresql.conf as the $SERVICE_USER user"
    changed=1
  fi

  [[ -z "${UNIT_CHANGED[postgresql]:-}" ]] || changed=1
  if component_running postgresql && ((changed)); then
    info 'restarting the embedded PostgreSQL (its settings changed)'
    stop_component postgresql
  fi
  if ! component_running postgresql; then
    require_free_port "${SETTING[DATABASE_PORT]}" database.port
    info "starting the embedded PostgreSQL on 127.0.0.1:${SETTING[DATABASE_PORT]}"
    start_component postgresql
  else
    info 'the embedded PostgreSQL is running; left as it is'
  fi
  wait_for_postgresql

  if [[ "$(psql_admin -tA -c "SELECT 1 FROM pg_roles WHERE rolname = '$user'")" != 1 ]]; then
    info "creating the database user $user"
    printf 'CREATE ROLE %s LOGIN PASSWORD %s;\n' "$user" "$(sql_literal "${SETTING[DATABASE_PASSWORD]}")" | psql_admin
  fi
  if [[ "$(psql_admin -tA -c "SELECT 1 FROM pg_database WHERE datname = '$database'")" != 1 ]]; then
    info "creating the database $database"
    psql_admin -c "CREATE DATABASE $database OWNER $user ENCODING 'UTF8' TEMPLATE template0"
  fi
  if ! pg_password_works; then
    info "setting the password of the database user $user to database.password of harbor.yml"
    printf 'ALTER ROLE %s PASSWORD %s;\n' "$user" "$(sql_literal "${SETTING[DATABASE_PASSWORD]}")" | psql_admin
    pg_password_works || die "the database user $user cannot log in with database.password" \
      "see $(component_log postgresql)"
  fi
}

# ---------------------------------------------------------------------------------------------------------------
# Embedded Redis

redis_quote() {
  [[ "$1" != *'"'* && "$1" != *\\* ]] || die "the path $1 cannot be used in the Redis configuration (it holds \" or \\)"
  printf '"%s"' "$1"
}

redis_settings() {
  cat <<EOF
# Written by install.sh on every run from harbor.yml; change harbor.yml and run install.sh instead.
bind 127.0.0.1
port ${SETTING[REDIS_PORT]}
protected-mode yes
daemonize no
logfile ""
dir $(redis_quote "$REDIS_DIR")
appendonly yes
appendfsync everysec
save 3600 1 300 100 60 10000
requirepass $REDIS_PASSWORD
EOF
}

wait_for_redis() {
  local i
  for ((i = 0; i < REDIS_READY_TIMEOUT; i++)); do
    if service_cli health redis --config "$RUN_CONFIG" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  show_component_log redis
  stop_component redis
  die "the embedded Redis did not answer within ${REDIS_READY_TIMEOUT}s (it was stopped again)" \
    "its log is $(component_log redis); fix what it reports and run install.sh again"
}

setup_redis() {
  [[ -x /usr/bin/redis-server ]] || apt_install redis-server external_redis
  # Read as the service user, which owns it; it reaches redis.conf through the standard input only.
  REDIS_PASSWORD="$(as_service_user cat -- "$DV/secret/redis.password" 2>/dev/null | head -c 4096 | tr -dc 'A-Za-z0-9')" ||
    REDIS_PASSWORD=''
  [[ ${#REDIS_PASSWORD} -ge 32 ]] || die "$DV/secret/redis.password is missing or not a generated password" \
    "delete it and run install.sh again (wharf prepare generates a new one)"
  local changed=0
  write_service_file "$REDIS_DIR/redis.conf" "$(redis_settings)" && changed=1
  [[ -z "${UNIT_CHANGED[redis]:-}" ]] || changed=1
  if component_running redis && ((changed)); then
    info 'restarting the embedded Redis (its settings changed)'
    stop_component redis
  fi
  if ! component_running redis; then
    require_free_port "${SETTING[REDIS_PORT]}" redis.port
    info "starting the embedded Redis on 127.0.0.1:${SETTING[REDIS_PORT]}"
    start_component redis
  else
    info 'the embedded Redis is running; left as it is'
  fi
  wait_for_redis
}

# ---------------------------------------------------------------------------------------------------------------
# HTTPS with a self-signed certificate (--self-signed)

# Where install.sh keeps the certificate it generates: the service user's, since core reads the key.
tls_dir() { printf '%s/secret/tls' "$DV"; }

# Whether harbor.yml's https section names the certificate install.sh generates (which it then keeps up to date).
uses_generated_certificate() {
  [[ "${SETTING[HTTPS_CERTIFICATE]:-}" == "$(tls_dir)/server.crt" && "${SETTING[HTTPS_PRIVATE_KEY]:-}" == "$(tls_dir)/server.key" ]]
}

is_ip_address() {
  [[ "$1" =~ ^[0-9]+(\.[0-9]+){3}$ || "$1" == *:* ]]
}

# With --self-signed and no https section, adds one to harbor.yml that names the generated certificate. A
# certificate harbor.yml already names is the administrator's, and is never replaced.
configure_self_signed_https() {
  if [[ -n "${SETTING[HTTPS_CERTIFICATE]:-}" ]]; then
    uses_generated_certificate && return 1
    die "--self-signed: $CONFIG already names a certificate (https.certificate: ${SETTING[HTTPS_CERTIFICATE]})" \
      'Wharf serves that one: run install.sh without --self-signed, or remove the https section to use a' \
      'self-signed certificate instead'
  fi
  local port=$HTTPS_PORT_GIVEN
  if [[ -z "$port" ]]; then
    if [[ "${SETTING[HTTP_PORT]}" == 80 ]]; then port=443; else port=8443; fi
  fi
  [[ "$port" != "${SETTING[HTTP_PORT]}" ]] || die "--https-port $port is http.port too" 'choose another port for HTTPS'
  local temporary
  temporary="$(umask 077 && mktemp -- "$CONFIG.XXXXXX")" || die "cannot create a file next to $CONFIG"
  chmod --reference="$CONFIG" -- "$temporary"
  chown --reference="$CONFIG" -- "$temporary"
  {
    cat -- "$CONFIG"
    printf '\n# Added by install.sh --self-signed: HTTPS with a certificate it generated and renews. To serve your own\n'
    printf '# certificate, name its files here instead.\nhttps:\n  port: %s\n  certificate: %s\n  private_key: %s\n' \
      "$port" "$(tls_dir)/server.crt" "$(tls_dir)/server.key"
  } >"$temporary"
  mv -- "$temporary" "$CONFIG"
  info "added an https section to $CONFIG (port $port, the self-signed certificate under $(tls_dir))"
  return 0
}

# Generates, as the service user, a CA (constrained to hostname) and a server certificate for hostname signed by
# it, in $1; with $2 = keep-ca, the existing CA signs a new server certificate.
# shellcheck disable=SC2016 # expanded by sh, as the service user
generate_certificate() {
  local dir=$1 mode=$2 host=${SETTING[HOSTNAME]} san constraint
  if is_ip_address "$host"; then
    san="IP:$host"
    if [[ "$host" == *:* ]]; then
      constraint="IP:$host/ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
    else
      constraint="IP:$host/255.255.255.255"
    fi
  else
    san="DNS:$host"
    constraint="DNS:$host"
  fi
  as_service_user sh -c '
    set -e
    umask 077
    cd "$1"
    host=$2 san=$3 constraint=$4 mode=$5
    trap "rm -f ca.key.new ca.crt.new server.key.new server.csr server.ext server.crt.new" EXIT
    if [ "$mode" != keep-ca ]; then
      openssl req -x509 -new -newkey rsa:3072 -nodes -sha256 -days 3650 -subj "/O=Wharf/CN=Wharf CA for $host" \
        -addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -addext "nameConstraints=critical,permitted;$constraint" -keyout ca.key.new -out ca.crt.new 2>/dev/null
      chmod 644 ca.crt.new
      mv -f ca.key.new ca.key
      mv -f ca.crt.new ca.crt
    fi
    openssl req -new -newkey rsa:2048 -nodes -sha256 -subj "/CN=$host" -keyout server.key.new -out server.csr 2>/dev/null
    printf "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\n" \
      "$san" >server.ext
    serial=0x$(od -An -N16 -tx1 /dev/urandom | tr -d " \n")
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -set_serial "$serial" -days 825 -sha256 \
      -extfile server.ext -out server.crt.new 2>/dev/null
    cat ca.crt >>server.crt.new
    chmod 644 server.crt.new
    mv -f server.key.new server.key
    mv -f server.crt.new server.crt
  ' sh "$dir" "$host" "$san" "$constraint" "$mode" || die "openssl could not generate the self-signed certificate in $dir"
}

# Whether the certificate in $1 is for hostname, chains to its CA, matches its key, and stays valid 30 more days.
certificate_current() {
  local dir=$1 host=${SETTING[HOSTNAME]} later
  local -a name=(-verify_hostname "$host")
  is_ip_address "$host" && name=(-verify_ip "$host")
  later=$(($(date +%s) + 30 * 86400))
  as_service_user openssl verify -CAfile "$dir/ca.crt" -attime "$later" "${name[@]}" "$dir/server.crt" >/dev/null 2>&1 &&
    [[ "$(as_service_user openssl x509 -noout -pubkey -in "$dir/server.crt" 2>/dev/null)" == \
      "$(as_service_user openssl pkey -pubout -in "$dir/server.key" 2>/dev/null)" ]]
}

# Keeps the generated certificate that harbor.yml names: made on first use, made again when it nears its end (30
# days) or hostname changed, else left as it is, so clients keep trusting it.
CERTIFICATE_STATE=''
ensure_generated_certificate() {
  uses_generated_certificate || return 0
  command -v openssl >/dev/null 2>&1 || die 'openssl is needed to generate the self-signed certificate' \
    'install it (apt-get install openssl) and run install.sh again'
  local dir
  dir="$(tls_dir)"
  service_subdirectory "$dir" 0700
  if certificate_current "$dir"; then
    CERTIFICATE_STATE=kept
    info "the self-signed certificate for ${SETTING[HOSTNAME]} in $dir is valid; kept"
    return
  fi
  # The CA is kept while it is for this hostname and valid for 30 more days, so clients need not trust a new one.
  if as_service_user openssl x509 -noout -checkend $((30 * 86400)) -in "$dir/ca.crt" >/dev/null 2>&1 &&
    [[ "$(as_service_user openssl x509 -noout -subject -nameopt RFC2253 -in "$dir/ca.crt" 2>/dev/null)" == \
      "subject=CN=Wharf CA for ${SETTING[HOSTNAME]},O=Wharf" ]] &&
    as_service_user test -s "$dir/ca.key"; then
    generate_certificate "$dir" keep-ca
    certificate_current "$dir" && CERTIFICATE_STATE=renewed
  fi
  if [[ -z "$CERTIFICATE_STATE" ]]; then
    generate_certificate "$dir" new-ca
    certificate_current "$dir" || die "the certificate generated in $dir does not verify (see openssl verify)"
    CERTIFICATE_STATE=created
  fi
  info "generated a self-signed certificate for ${SETTING[HOSTNAME]} in $dir ($(
    [[ "$CERTIFICATE_STATE" == created ]] && printf 'with a new CA' || printf 'signed by the CA clients already trust'
  ))"
  # Core reads its certificate when it starts: a new one needs a restart.
  rm -f -- "$STATE_DIR/core.fingerprint"
}

# What clients need to trust the generated certificate.
certificate_trust_summary() {
  uses_generated_certificate || return 0
  local address=$1
  detail "Certificate:     self-signed; its CA is $(tls_dir)/ca.crt. On each client, as root, copy it to"
  detail "                 /etc/containers/certs.d/$address/ca.crt (podman, skopeo, buildah)"
  detail "                 /etc/docker/certs.d/$address/ca.crt (docker)"
  if [[ "$CERTIFICATE_STATE" == created ]]; then
    detail '                 (a new CA: clients that trusted an earlier one need this one)'
  fi
}

# ---------------------------------------------------------------------------------------------------------------
# Components

# Stop signal and timeout of each component: PostgreSQL shuts down fast on SIGINT.
stop_signal() { if [[ "$1" == postgresql ]]; then printf SIGINT; else printf SIGTERM; fi; }
stop_timeout() { if [[ "$1" == postgresql ]]; then printf 120; else printf 60; fi; }

component_command() {
  case "$1" in
    postgresql) printf '%s\0' "$PG_BIN/postgres" -D "$PGDATA" ;;
    redis) printf '%s\0' /usr/bin/redis-server "$REDIS_DIR/redis.conf" ;;
    core | jobservice) printf '%s\0' /usr/bin/env WHARF_NODE="$NODE" "$LAUNCHER" start "$1" --config "$RUN_CONFIG" ;;
  esac
}

start_component() {
  local name=$1
  local -a command
  mapfile -d '' -t command < <(component_command "$name")
  if ((SYSTEMD)); then
    systemctl start "wharf-$name.service" || {
      show_component_log "$name"
      die "systemctl start wharf-$name failed" "see journalctl -u wharf-$name"
    }
  else
    start_supervised "$name" "$(stop_signal "$name")" "$(stop_timeout "$name")" -- "${command[@]}"
  fi
}

stop_component() {
  local name=$1
  if ((SYSTEMD)); then
    systemctl stop "wharf-$name.service" 2>/dev/null || true
  else
    stop_supervised "$name" "$(stop_timeout "$name")"
  fi
}

# The local address of core's HTTP listener.
core_local_url() {
  local host=${SETTING[HTTP_HOST]}
  case "$host" in
    0.0.0.0 | '') host=127.0.0.1 ;;
    ::) host='[::1]' ;;
    *:*) host="[$host]" ;;
  esac
  printf 'http://%s:%s' "$host" "${SETTING[HTTP_PORT]}"
}

# Core answers its ping, or (serving HTTPS) redirects it there: either way it is up.
core_answers() {
  as_service_user "$NODE" -e '
    fetch(process.argv[1], { redirect: "manual", signal: AbortSignal.timeout(3000) }).then(
      (response) => {
        const redirected = [301, 302, 307, 308].includes(response.status) &&
          (response.headers.get("location") ?? "").startsWith("https://");
        process.exit(response.status === 200 || redirected ? 0 : 1);
      },
      () => process.exit(1),
    );
  ' "$(core_local_url)/api/v2.0/ping" 2>/dev/null
}

wait_for_core() {
  local i pid
  for ((i = 0; i < CORE_READY_TIMEOUT; i++)); do
    if core_answers && pid="$(component_pid core)" && [[ -n "$pid" ]]; then return 0; fi
    sleep 1
  done
  show_component_log core
  stop_component core
  die "core did not answer $(core_local_url)/api/v2.0/ping within ${CORE_READY_TIMEOUT}s (it was stopped again)" \
    "its log is $(component_log core) (last lines above); fix what it reports and run install.sh again"
}

wait_for_jobservice() {
  local i pid
  for ((i = 0; i < JOBSERVICE_READY_TIMEOUT; i++)); do
    if pid="$(component_pid jobservice)" &&
      service_cli health jobservice --config "$RUN_CONFIG" --jobservice-pid "$pid" >/dev/null 2>&1; then
      return 0
    fi
    sleep 1
  done
  show_component_log jobservice
  stop_component jobservice
  die "the jobservice did not report healthy within ${JOBSERVICE_READY_TIMEOUT}s (it was stopped again)" \
    "its log is $(component_log jobservice) (last lines above); fix what it reports and run install.sh again"
}

# Starts core or the jobservice, or restarts it when what it runs has changed since it started.
start_node_service() {
  local name=$1 fingerprint
  fingerprint="$(build_fingerprint)"
  local stamp="$STATE_DIR/$name.fingerprint"
  if component_running "$name" && [[ -f "$stamp" && "$(cat -- "$stamp")" == "$fingerprint" ]]; then
    if [[ "$name" == core ]] && core_answers; then
      info 'core is up to date and running; left as it is'
      return
    fi
    local pid
    if [[ "$name" == jobservice ]] && pid="$(component_pid jobservice)" &&
      service_cli health jobservice --config "$RUN_CONFIG" --jobservice-pid "$pid" >/dev/null 2>&1; then
      info 'the jobservice is up to date and running; left as it is'
      return
    fi
  fi
  if component_running "$name"; then
    info "restarting $name (new build or configuration)"
    stop_component "$name"
  else
    info "starting $name"
  fi
  if [[ "$name" == core ]]; then
    require_free_port "${SETTING[HTTP_PORT]}" http.port
    if [[ -n "${SETTING[HTTPS_PORT]:-}" ]]; then require_free_port "${SETTING[HTTPS_PORT]}" https.port; fi
  fi
  start_component "$name"
  printf '%s\n' "$fingerprint" >"$stamp"
}

run_migrations() {
  info 'applying database migrations (wharf migrate)'
  local output
  if ! output="$(as_service_user "$NODE" "$CLI" migrate --config "$RUN_CONFIG" 2>&1)"; then
    die 'wharf migrate failed' "$output"
  fi
  while IFS= read -r line; do detail "$line"; done <<<"$output"
}

# ---------------------------------------------------------------------------------------------------------------
# systemd units

# A word of a unit file: quoted, with systemd's specifiers (%) and variables ($) escaped.
unit_word() {
  local word=$1
  word=${word//\\/\\\\}
  word=${word//\"/\\\"}
  word=${word//%/%%}
  word=${word//\$/\$\$}
  printf '"%s"' "$word"
}

unit_words() {
  local out='' word
  for word in "$@"; do out+=" $(unit_word "$word")"; done
  printf '%s' "${out# }"
}

# The hardening every unit gets. A private /tmp would hide Wharf's own files when they live under /tmp.
hardening() {
  local path
  for path in "$ROOT" "$DV" "$LOG_DIR" "${SETTING[STORAGE_ROOT]:-/}"; do
    if [[ "$path" == /tmp/* || "$path" == /var/tmp/* ]]; then
      printf '%s\n' "$HARDENING"
      return
    fi
  done
  printf 'PrivateTmp=yes\n%s\n' "$HARDENING"
}

HARDENING='NoNewPrivileges=yes
PrivateDevices=yes
ProtectSystem=strict
ProtectHome=read-only
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallErrorNumber=EPERM
UMask=0077'

unit_postgresql() {
  cat <<EOF
[Unit]
Description=Wharf embedded PostgreSQL
After=network.target

[Service]
Type=notify
User=$SERVICE_USER
Group=$SERVICE_USER
ExecStart=$(unit_words "$PG_BIN/postgres" -D "$PGDATA")
ExecReload=/bin/kill -HUP \$MAINPID
KillMode=mixed
KillSignal=SIGINT
TimeoutStartSec=300
TimeoutStopSec=120
Restart=always
RestartSec=5
OOMScoreAdjust=-900
ReadWritePaths=$(unit_words "$PGDATA" "$PG_SOCKET_DIR")
CapabilityBoundingSet=
$(hardening)

[Install]
WantedBy=multi-user.target
EOF
}

unit_redis() {
  cat <<EOF
[Unit]
Description=Wharf embedded Redis
After=network.target

[Service]
Type=notify
User=$SERVICE_USER
Group=$SERVICE_USER
ExecStart=$(unit_words /usr/bin/redis-server "$REDIS_DIR/redis.conf" --supervised systemd)
TimeoutStopSec=60
Restart=always
RestartSec=5
ReadWritePaths=$(unit_words "$REDIS_DIR")
CapabilityBoundingSet=
$(hardening)

[Install]
WantedBy=multi-user.target
EOF
}

# Units the Node services need before them, as a systemd list.
backing_units() {
  local units=''
  ((EMBEDDED_DB)) && units+=' wharf-postgresql.service'
  ((EMBEDDED_REDIS)) && units+=' wharf-redis.service'
  printf '%s' "${units# }"
}

unit_node() {
  local name=$1 description=$2 after=$3
  local capabilities='CapabilityBoundingSet='
  if [[ "$name" == core ]] && needs_low_port; then
    capabilities='CapabilityBoundingSet=CAP_NET_BIND_SERVICE
AmbientCapabilities=CAP_NET_BIND_SERVICE'
  fi
  local -a writable=("$DV")
  [[ -n "${SETTING[STORAGE_ROOT]:-}" ]] && writable+=("${SETTING[STORAGE_ROOT]}")
  local requires reload=''
  requires="$(backing_units)"
  # Core reads its certificate and key again on SIGHUP (`systemctl reload wharf-core`).
  [[ "$name" == core ]] && reload='/bin/kill -HUP $MAINPID'
  cat <<EOF
[Unit]
Description=$description
After=network-online.target${after:+ $after}
Wants=network-online.target${requires:+
Requires=$requires}

[Service]
Type=simple
User=$SERVICE_USER
Group=$SERVICE_USER
WorkingDirectory=${ROOT//%/%%}
Environment=NODE_ENV=production
Environment=$(unit_words "WHARF_NODE=$NODE")
ExecStart=$(unit_words "$LAUNCHER" start "$name" --config "$RUN_CONFIG")${reload:+
ExecReload=$reload}
KillSignal=SIGTERM
TimeoutStopSec=60
Restart=always
RestartSec=2
ReadWritePaths=$(unit_words "${writable[@]}")
$capabilities
$(hardening)

[Install]
WantedBy=multi-user.target
EOF
}

# NAME<TAB>content pairs, separated by NUL, of every unit this configuration needs.
render_units() {
  if ((EMBEDDED_DB)); then printf 'wharf-postgresql.service\t%s\0' "$(unit_postgresql)"; fi
  if ((EMBEDDED_REDIS)); then printf 'wharf-redis.service\t%s\0' "$(unit_redis)"; fi
  printf 'wharf-core.service\t%s\0' "$(unit_node core 'Wharf core (API, token service, registry)' "$(backing_units)")"
  printf 'wharf-jobservice.service\t%s\0' \
    "$(unit_node jobservice 'Wharf jobservice (background jobs)' "$(backing_units) wharf-core.service")"
}

print_units() {
  local entry
  while IFS= read -r -d '' entry; do
    printf '# %s/%s\n%s\n\n' "$UNIT_DIR" "${entry%%$'\t'*}" "${entry#*$'\t'}"
  done < <(render_units)
}

declare -A UNIT_CHANGED=()

install_units() {
  local entry name changed=0 component
  while IFS= read -r -d '' entry; do
    name=${entry%%$'\t'*}
    if [[ ! -f "$UNIT_DIR/$name" || "$(cat -- "$UNIT_DIR/$name")" != "${entry#*$'\t'}" ]]; then
      printf '%s\n' "${entry#*$'\t'}" >"$UNIT_DIR/$name"
      detail "wrote $UNIT_DIR/$name"
      changed=1
      component=${name#wharf-}
      UNIT_CHANGED[${component%.service}]=1
      # A running service keeps its old unit until restarted: forget that core or the jobservice is up to date.
      rm -f -- "$STATE_DIR/${component%.service}.fingerprint"
    fi
  done < <(render_units)
  ((changed)) && systemctl daemon-reload
  local -a units=(wharf-core.service wharf-jobservice.service)
  ((EMBEDDED_DB)) && units+=(wharf-postgresql.service)
  ((EMBEDDED_REDIS)) && units+=(wharf-redis.service)
  systemctl enable --quiet "${units[@]}"
}

# ---------------------------------------------------------------------------------------------------------------
# Uninstalling

# Deletes a directory of Wharf's own (--purge): its content as the service user, which owns all of it, then the
# directory itself. Only a directory install.sh made (it holds the marker) is touched.
purge_directory() {
  local dir=$1 key=$2
  if [[ ! -e "$dir" && ! -L "$dir" ]]; then
    detail "$key $dir: already gone"
    return
  fi
  refuse_system_directory "$dir" "$key"
  if [[ -L "$dir" || ! -d "$dir" || "$(stat -c %U -- "$dir")" != "$SERVICE_USER" ]] ||
    ! as_service_user test -f "$dir/$MARKER"; then
    warn "left $dir ($key) as it is: it is not a directory install.sh made for the $SERVICE_USER user"
    return
  fi
  as_service_user find "$dir" -mindepth 1 -delete 2>/dev/null || true
  if rmdir -- "$dir" 2>/dev/null; then
    detail "deleted $dir ($key)"
  else
    warn "could not delete everything in $dir ($key): what is left is not the $SERVICE_USER user's to delete"
  fi
}

# Removes the service user with --purge, unless another installation on this host still runs as it.
remove_service_user() {
  if ! getent passwd "$SERVICE_USER" >/dev/null; then
    detail "the $SERVICE_USER user: already gone"
    return
  fi
  local others
  others="$(find "$STATE_ROOT" -mindepth 1 -maxdepth 1 -type d -name '????????????????' -printf '%f ' 2>/dev/null || true)"
  others=${others% }
  if [[ -n "$others" ]]; then
    warn "kept the $SERVICE_USER user: install.sh has records of other installations on this host ($STATE_ROOT: $others)"
    return
  fi
  if pgrep -u "$SERVICE_USER" >/dev/null 2>&1; then
    warn "kept the $SERVICE_USER user: processes still run as it (ps -u $SERVICE_USER)"
    return
  fi
  userdel -- "$SERVICE_USER" || die "userdel $SERVICE_USER failed (see above)"
  if getent group "$SERVICE_USER" >/dev/null; then groupdel -- "$SERVICE_USER" 2>/dev/null || true; fi
  detail "deleted the $SERVICE_USER user"
}

# Stops and removes what install.sh set up for this harbor.yml: the components, their systemd units or supervisors,
# and its records. Data stays unless --purge. Running it again finds nothing left to do and says so.
do_uninstall() {
  local name unit stopped=0
  info "uninstalling the Wharf of $CONFIG (data_volume $DV)"
  if ((SYSTEMD)); then
    local reload=0
    for name in jobservice core redis postgresql; do
      unit="$UNIT_DIR/wharf-$name.service"
      # Unit names are the same for every installation: only units of this data_volume are this one's.
      [[ -f "$unit" ]] && grep -qF -- "$DV/" "$unit" || continue
      systemctl disable --now --quiet "wharf-$name.service" 2>/dev/null || true
      rm -f -- "$unit"
      detail "stopped $name and removed $unit"
      reload=1
      stopped=1
    done
    ((reload)) && systemctl daemon-reload
  elif getent passwd "$SERVICE_USER" >/dev/null; then
    for name in jobservice core redis postgresql; do
      if supervisor_pid "$name" >/dev/null || child_pid "$name" >/dev/null; then
        stop_supervised "$name" "$(stop_timeout "$name")"
        detail "stopped $name"
        stopped=1
      fi
    done
  fi
  ((stopped)) || detail 'no component of this installation was running or installed'
  local record
  record="$(generated_admin_record)"
  # The lock this run holds is the one file there when install.sh never installed this data_volume.
  if [[ -f "$record" || -n "$(find "$STATE_DIR" -mindepth 1 ! -name lock -print -quit)" ]]; then
    detail "removed install.sh's records of this installation ($STATE_DIR)"
  fi
  rm -rf -- "$STATE_DIR" "$record"
  if ((!PURGE)); then
    info 'Wharf is uninstalled; its data is kept'
    detail "data_volume (images, database, secrets): $DV"
    if [[ -n "${SETTING[STORAGE_ROOT]:-}" && "${SETTING[STORAGE_ROOT]}" != "$DV"/* ]]; then
      detail "storage root: ${SETTING[STORAGE_ROOT]}"
    fi
    detail "logs: $LOG_DIR"
    detail "configuration: $CONFIG"
    detail "./install.sh again installs Wharf with this data; ./install.sh --uninstall --purge deletes it"
    return
  fi
  info "--purge: deleting Wharf's data for good: $DV, $LOG_DIR and the $SERVICE_USER user ($CONFIG is kept)"
  if getent passwd "$SERVICE_USER" >/dev/null; then
    purge_directory "$DV" data_volume
    if [[ -n "${SETTING[STORAGE_ROOT]:-}" && "${SETTING[STORAGE_ROOT]}" != "$DV"/* ]]; then
      purge_directory "${SETTING[STORAGE_ROOT]}" storage_service.filesystem.rootdirectory
    fi
    [[ "$LOG_DIR" == "$DV"/* ]] || purge_directory "$LOG_DIR" log.local.location
  elif [[ -e "$DV" || -e "$LOG_DIR" ]]; then
    warn "the $SERVICE_USER user no longer exists, so nothing under $DV or $LOG_DIR can be its: left as they are"
  else
    detail "$DV and $LOG_DIR: already gone"
  fi
  if ((!EMBEDDED_DB)) || ((!EMBEDDED_REDIS)); then
    detail 'the external database or Redis that harbor.yml names is left as it is'
  fi
  remove_service_user
  info 'Wharf is uninstalled and its data deleted'
}

# ---------------------------------------------------------------------------------------------------------------
# Actions

components() {
  local -a list=()
  ((EMBEDDED_DB)) && list+=(postgresql)
  ((EMBEDDED_REDIS)) && list+=(redis)
  list+=(core jobservice)
  printf '%s\n' "${list[@]}"
}

do_stop() {
  local name
  local -a order
  mapfile -t order < <(components | tac)
  for name in "${order[@]}"; do
    if component_running "$name" || { ((!SYSTEMD)) && child_pid "$name" >/dev/null; }; then
      info "stopping $name"
      stop_component "$name"
      detail 'stopped'
    else
      info "$name is not running"
    fi
  done
}

do_status() {
  local name pid state health check detail all_ok=0
  printf '%-11s %-8s %-8s %-9s %s\n' COMPONENT STATE PID HEALTH DETAIL
  while IFS= read -r name; do
    pid='-'
    state=stopped
    if component_running "$name"; then
      state=running
      pid="$(component_pid "$name" || printf -- '-')"
    fi
    case "$name" in
      postgresql) check=database ;;
      *) check=$name ;;
    esac
    local -a extra=()
    [[ "$name" == jobservice && "$pid" != - ]] && extra=(--jobservice-pid "$pid")
    if [[ "$state" == running ]]; then
      detail="$(service_cli health "$check" --config "$RUN_CONFIG" "${extra[@]}" 2>&1 | head -n 1 || true)"
    else
      detail="$check: unhealthy (not running)"
    fi
    if [[ "$state" == running && "$detail" == "$check: healthy"* ]]; then health=healthy; else health=unhealthy; fi
    [[ "$health" == healthy ]] || all_ok=1
    printf '%-11s %-8s %-8s %-9s %s\n' "$name" "$state" "$pid" "$health" "${detail#*: }"
  done < <(components)
  for check in database redis; do
    if { [[ "$check" == database ]] && ((!EMBEDDED_DB)); } || { [[ "$check" == redis ]] && ((!EMBEDDED_REDIS)); }; then
      detail="$(service_cli health "$check" --config "$RUN_CONFIG" 2>&1 | head -n 1 || true)"
      if [[ "$detail" == "$check: healthy"* ]]; then health=healthy; else health=unhealthy && all_ok=1; fi
      printf '%-11s %-8s %-8s %-9s %s\n' "$check" external - "$health" "${detail#*: }"
    fi
  done
  return "$all_ok"
}

# The admin's password while it is still harbor_admin_password (install.sh cannot tell a password the admin has not
# changed from one never used): its value when install.sh generated it, otherwise where it is.
admin_password_summary() {
  local state record
  state="$(service_cli admin-password --config "$RUN_CONFIG" 2>/dev/null)" || state=unknown
  [[ "$state" != changed ]] || return 0
  record="$(generated_admin_record)"
  if [[ -f "$record" && "$(cat -- "$record")" == "$(printf '%s' "${SETTING[ADMIN_PASSWORD]}" | sha256sum | cut -d ' ' -f 1)" ]]; then
    detail "Admin password:  ${SETTING[ADMIN_PASSWORD]}"
    detail "                 (generated; harbor_admin_password in $CONFIG. Shown on every run until you change it:"
    detail '                 log in, then change it on the Account page of the user menu)'
  else
    detail "Admin password:  harbor_admin_password in $CONFIG (until you change it after logging in)"
  fi
}

public_summary() {
  local host=${SETTING[HOSTNAME]} port=${SETTING[HTTP_PORT]} scheme=http url login
  if [[ -n "${SETTING[HTTPS_PORT]:-}" ]]; then
    port=${SETTING[HTTPS_PORT]}
    scheme=https
  fi
  if [[ -n "${SETTING[EXTERNAL_URL]:-}" ]]; then
    url=${SETTING[EXTERNAL_URL]}
    login=${url#*://}
  else
    login=$host
    [[ "$host" == *:* ]] && login="[$host]"
    [[ "$port" == 80 && "$scheme" == http ]] || [[ "$port" == 443 && "$scheme" == https ]] || login+=":$port"
    url="$scheme://$login"
  fi
  printf '\n'
  info "Wharf is running"
  detail "Portal and API:  $url"
  detail 'Admin user:      admin'
  admin_password_summary
  detail "Docker:          docker login $login"
  if [[ "$url" == http://* ]]; then
    detail "                 (plain HTTP: clients must list $login as an insecure registry)"
  fi
  certificate_trust_summary "$login"
  local with_config=''
  ((CONFIG_GIVEN)) && with_config=" --config $CONFIG"
  detail "Status:          $ROOT/install.sh --status$with_config"
  detail "Stop:            $ROOT/install.sh --stop$with_config"
  detail "Uninstall:       $ROOT/install.sh --uninstall$with_config (keeps the data; add --purge to delete it)"
  if ((!SYSTEMD)); then detail "Logs:            $LOG_DIR"; fi
}

# install.sh's records for this data_volume: $STATE_ROOT/<id> (0700, root), the id derived from the path.
STATE_DIR=''
state_directory() {
  STATE_DIR="$STATE_ROOT/$(printf '%s' "$DV" | sha256sum | cut -c 1-16)"
  install -d -m 0700 -o root -g root -- "$STATE_ROOT" "$STATE_DIR"
}

# Takes the lock in file $1 on file descriptor $2 (8 or 9), or stops with the message given.
take_lock() {
  local file=$1 fd=$2
  shift 2
  [[ -e "$file" ]] || (umask 077 && : >>"$file")
  if ((fd == 8)); then exec 8<"$file"; else exec 9<"$file"; fi
  flock -n "$fd" || die "$@"
}

# One install.sh at a time per checkout, taken before the build: two runs never build in one checkout at once.
lock_checkout() {
  install -d -m 0700 -o root -g root -- "$STATE_ROOT"
  take_lock "$STATE_ROOT/checkout-$(printf '%s' "$ROOT" | sha256sum | cut -c 1-16).lock" 8 \
    "another install.sh is working with $ROOT" 'wait for it to finish, then run this command again'
}

# One install.sh at a time per data volume: two runs would start the same services twice.
lock_data_volume() {
  state_directory
  take_lock "$STATE_DIR/lock" 9 "another install.sh is working on $DV" 'wait for it to finish, then run this command again'
}

# An embedded PostgreSQL or Redis that harbor.yml no longer uses (external_* was set since) is stopped; its data
# stays under data_volume.
retire_unused_embedded() {
  local name
  for name in postgresql redis; do
    if [[ "$name" == postgresql ]] && ((EMBEDDED_DB)); then continue; fi
    if [[ "$name" == redis ]] && ((EMBEDDED_REDIS)); then continue; fi
    if component_running "$name"; then
      info "stopping the embedded $name: harbor.yml now names an external one (its data stays in $DV)"
      stop_component "$name"
    fi
    if ((SYSTEMD)) && [[ -f "$UNIT_DIR/wharf-$name.service" ]]; then
      systemctl disable --quiet "wharf-$name.service" || true
      rm -f -- "$UNIT_DIR/wharf-$name.service"
      systemctl daemon-reload
    fi
  done
}

do_install() {
  if [[ ! -e "$CONFIG" ]]; then create_config; fi
  verify_config
  load_settings
  if ((SELF_SIGNED)) && configure_self_signed_https; then
    verify_config
    load_settings
  fi
  lock_data_volume
  ensure_service_user
  check_checkout_access
  prepare_directories
  install_config_copy
  prepare_secrets
  ensure_generated_certificate
  if ((SYSTEMD)); then
    find_pg_bin || true
    ((EMBEDDED_DB)) && [[ -z "$PG_BIN" ]] && { apt_install postgresql external_database && find_pg_bin; }
    info "installing the systemd units in $UNIT_DIR"
    install_units
  fi
  retire_unused_embedded
  if ((EMBEDDED_DB)); then setup_postgresql; fi
  if ((EMBEDDED_REDIS)); then setup_redis; fi
  run_migrations
  start_node_service core
  wait_for_core
  start_node_service jobservice
  wait_for_jobservice
  public_summary
}

check_node
case "$ACTION" in
  install)
    lock_checkout
    build_workspace
    do_install
    ;;
  print-units)
    [[ -f "$CLI" ]] || die "$CLI does not exist" 'build Wharf first (pnpm install && pnpm build)'
    [[ -r "$CONFIG" ]] || die "$CONFIG does not exist or cannot be read"
    load_settings
    find_pg_bin 2>/dev/null || PG_BIN=/usr/lib/postgresql/VERSION/bin
    print_units
    ;;
  uninstall)
    [[ -f "$CLI" ]] || die "$CLI does not exist" 'Wharf was never built here, so install.sh did not install it from here'
    [[ -r "$CONFIG" ]] || die "$CONFIG does not exist or cannot be read" 'give the harbor.yml Wharf was installed with: --config FILE'
    lock_checkout
    load_settings
    lock_data_volume
    do_uninstall
    ;;
  stop | status)
    [[ -f "$CLI" ]] || die "$CLI does not exist" 'Wharf was never built here: run ./install.sh first'
    [[ -r "$CONFIG" ]] || die "$CONFIG does not exist or cannot be read" 'give the harbor.yml Wharf was installed with: --config FILE'
    load_settings
    if ! getent passwd "$SERVICE_USER" >/dev/null || ! as_service_user test -f "$RUN_CONFIG" 2>/dev/null; then
      [[ "$ACTION" == stop ]] && { info "Wharf is not installed in $DV; nothing to stop"; exit 0; }
      die "Wharf is not installed in $DV" 'run ./install.sh to install it'
    fi
    if [[ "$ACTION" == stop ]]; then
      lock_data_volume
      do_stop
    else
      do_status
    fi
    ;;
esac
