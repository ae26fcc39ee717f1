#!/usr/bin/env bash
# Detour's development and CI stack on a Debian machine: RabbitMQ (with the management API),
# PostgreSQL, a Samba AD DC provisioned into the build area with its own CA, and OpenSSH for
# the simulated Connect servers the tests run.
#
#   deploy/dev-stack.sh up       make sure everything runs (idempotent), then write stack.env
#   deploy/dev-stack.sh down     stop what this script started (Samba always; RabbitMQ and
#                                PostgreSQL only if this script started them)
#   deploy/dev-stack.sh status   say what runs
#   deploy/dev-stack.sh env      print the path of stack.env
#   deploy/dev-stack.sh serve-samba   the samba-ad container's entry point: provision, seed,
#                                publish the CA and passwords, serve on every interface
#
# Everything it creates lives in $DETOUR_STACK_DIR (default: target/dev-stack), never /etc or
# /var/lib/samba. The domain is bound to 127.0.0.1 only, with no DNS server.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STACK_DIR=${DETOUR_STACK_DIR:-$ROOT/target/dev-stack}
SAMBA_DIR=$STACK_DIR/samba
SECRETS=$STACK_DIR/secrets
REALM=CORP.EXAMPLE.COM
DOMAIN=CORP
BASE_DN="DC=corp,DC=example,DC=com"
LDAP_URL=ldaps://127.0.0.1:636
CA=$SAMBA_DIR/private/tls/ca.pem
SVC_DN="CN=svc-detour,OU=Service Accounts,OU=Corp,$BASE_DN"
# The account simulated Connect servers let in over SSH (each test runs its own sshd).
SSH_USER=detour-adsync

log() { printf '[dev-stack] %s\n' "$*" >&2; }
die() { printf '[dev-stack] error: %s\n' "$*" >&2; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() { # seconds description command...
  local deadline=$((SECONDS + $1)) what=$2; shift 2
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || die "timed out waiting for $what"
    sleep 0.3
  done
}

apt_updated=
apt_install() {
  if [ -z "$apt_updated" ]; then
    log "apt-get update"
    apt-get update -qq
    apt_updated=1
  fi
  # Without systemd a postinst may start stock daemons on 0.0.0.0; policy-rc.d forbids it.
  local guard=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    guard=1
  fi
  log "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  [ -z "$guard" ] || rm -f /usr/sbin/policy-rc.d
}

mark_started() { mkdir -p "$STACK_DIR" && touch "$STACK_DIR/started-$1"; }

ensure_rabbitmq() {
  if ! port_open 5672; then
    command -v rabbitmq-server >/dev/null || apt_install rabbitmq-server
    log "starting RabbitMQ"
    RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 rabbitmq-server -detached
    mark_started rabbitmq
  fi
  rabbitmqctl -q await_startup >/dev/null
  if ! port_open 15672; then
    log "enabling the RabbitMQ management API on 127.0.0.1:15672"
    rabbitmqctl -q eval 'application:set_env(rabbitmq_management, tcp_config, [{ip, "127.0.0.1"}, {port, 15672}]).' >/dev/null
    rabbitmq-plugins -q enable rabbitmq_management >/dev/null
    wait_for 60 "the RabbitMQ management API" port_open 15672
  fi
}

ensure_postgres() {
  if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    command -v pg_ctlcluster >/dev/null || apt_install postgresql
    local version
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    log "starting PostgreSQL $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start
    mark_started postgres
    wait_for 30 PostgreSQL pg_isready -q -h 127.0.0.1 -p 5432
  fi
}

ensure_samba_packages() {
  if ! command -v samba >/dev/null || ! command -v ldapsearch >/dev/null || ! command -v samba-tool >/dev/null; then
    # samba-vfs-modules: provisioning loads acl_xattr.so from it.
    apt_install samba samba-dsdb-modules samba-vfs-modules samba-ad-provision ldap-utils openssl
  fi
}

make_tls() { # dir
  local tls=$1
  mkdir -p "$tls"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=Detour Dev Stack CA" \
    -keyout "$tls/ca-key.pem" -out "$tls/ca.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=dc1.corp.example.com" \
    -keyout "$tls/key.pem" -out "$tls/server.csr" 2>/dev/null
  printf 'subjectAltName=DNS:dc1.corp.example.com,DNS:corp.example.com,DNS:localhost,DNS:samba-ad,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > "$tls/ext.cnf"
  openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca-key.pem" -CAcreateserial \
    -days 3650 -extfile "$tls/ext.cnf" -out "$tls/cert.pem" 2>/dev/null
  chmod 600 "$tls/key.pem" "$tls/ca-key.pem"
  rm -f "$tls/server.csr" "$tls/ext.cnf"
}

new_password() { printf 'Dt%s!9' "$(openssl rand -hex 12)"; }

provision_samba() {
  [ -f "$SAMBA_DIR/etc/smb.conf" ] && return 0
  mkdir -p "$SECRETS" && chmod 700 "$SECRETS"
  [ -f "$SECRETS/admin-password" ] || new_password > "$SECRETS/admin-password"
  [ -f "$SECRETS/svc-password" ] || new_password > "$SECRETS/svc-password"
  chmod 600 "$SECRETS"/*
  local tmp=$SAMBA_DIR.partial
  rm -rf "$tmp" && mkdir -p "$tmp"/{run,log,private/tls}
  log "provisioning the $REALM domain into $SAMBA_DIR"
  # In a container (no CAP_SYS_ADMIN) the security.* extended attributes the sysvol's ACLs
  # live in cannot be written: keep them in a tdb instead.
  local xattrs=()
  [ -z "${DETOUR_SAMBA_XATTRS_IN_TDB:-}" ] || xattrs=(--option="vfs objects = dfs_samba4 acl_xattr xattr_tdb")
  samba-tool domain provision -s /dev/null --realm="$REALM" --domain="$DOMAIN" --server-role=dc \
    "${xattrs[@]}" \
    --dns-backend=NONE --use-rfc2307 --host-name=DC1 --adminpass="$(cat "$SECRETS/admin-password")" \
    --targetdir="$tmp" \
    --option="pid directory=$tmp/run" --option="ncalrpc dir=$tmp/run/ncalrpc" \
    --option="winbindd socket directory=$tmp/run/winbindd" \
    --option="ntp signd socket directory=$tmp/run/ntp_signd" \
    --option="log file=$tmp/log/samba.log" > "$tmp/log/provision.log" 2>&1 \
    || { tail -n 20 "$tmp/log/provision.log" >&2; die "samba-tool domain provision failed"; }
  # Only the LDAP service: samba exits at once otherwise, winbindd not being installed.
  sed -i 's/^\s*server services = .*/\tserver services = ldap/' "$tmp/etc/smb.conf"
  grep -q 'server services = ldap$' "$tmp/etc/smb.conf" || die "could not restrict samba to its LDAP service"
  # Samba's own certificate has no subjectAltName, so clients could not verify it; ours has.
  make_tls "$tmp/private/tls"
  sed -i "s#$tmp#$SAMBA_DIR#g" "$tmp/etc/smb.conf"
  mv "$tmp" "$SAMBA_DIR"
}

samba_pid() {
  local pidfile=$SAMBA_DIR/run/samba.pid
  [ -f "$pidfile" ] || return 1
  local pid; pid=$(tr -dc '0-9' < "$pidfile")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

admin_search() { # base scope [filter]
  LDAPTLS_CACERT=$CA ldapsearch -LLL -o ldif-wrap=no -H "$LDAP_URL" -x \
    -D "Administrator@$REALM" -y "$SECRETS/admin-password.nonl" -b "$1" -s "$2" "${3:-(objectClass=*)}" "${@:4}"
}

start_samba() {
  if ! samba_pid >/dev/null; then
    if port_open 636; then
      die "port 636 is taken by another LDAP server (another checkout's dev stack? run its 'deploy/dev-stack.sh down')"
    fi
    log "starting Samba AD DC on 127.0.0.1"
    # TDB_NO_FSYNC: bulk writes in tests are 10-25x faster; this directory is disposable.
    local listen=(--option="interfaces=127.0.0.1" --option="bind interfaces only=yes")
    # In the samba-ad container, every interface of the container.
    [ -z "${DETOUR_SAMBA_LISTEN_ALL:-}" ] || listen=()
    TDB_NO_FSYNC=1 nohup samba -s "$SAMBA_DIR/etc/smb.conf" -i --model=single --maximum-runtime=31536000 \
      "${listen[@]}" > "$SAMBA_DIR/log/samba.out" 2>&1 < /dev/null &
  fi
  printf '%s' "$(cat "$SECRETS/admin-password")" > "$SECRETS/admin-password.nonl"
  printf '%s' "$(cat "$SECRETS/svc-password")" > "$SECRETS/svc-password.nonl"
  chmod 600 "$SECRETS"/*
  # The port opens before binds work: wait for a real bind over verified TLS.
  wait_for 60 "an LDAPS bind to Samba" admin_search "" base
}

seed_directory() {
  local ldif out rc
  ldif=$(sed "s/@BASE@/$BASE_DN/g" "$ROOT/deploy/samba/layout.ldif")
  out=$(printf '%s\n' "$ldif" | LDAPTLS_CACERT=$CA ldapadd -c -H "$LDAP_URL" -x -D "Administrator@$REALM" \
    -y "$SECRETS/admin-password.nonl" 2>&1) && rc=0 || rc=$?
  [ $rc -eq 0 ] || [ $rc -eq 68 ] || { printf '%s\n' "$out" >&2; die "seeding the OU layout failed ($rc)"; }
  if [ -z "$(admin_search "$SVC_DN" base '(objectClass=user)' dn 2>/dev/null)" ]; then
    log "creating the service account svc-detour"
    local pw; pw=$(printf '"%s"' "$(cat "$SECRETS/svc-password.nonl")" | iconv -f utf-8 -t utf-16le | base64 -w0)
    LDAPTLS_CACERT=$CA ldapmodify -H "$LDAP_URL" -x -D "Administrator@$REALM" -y "$SECRETS/admin-password.nonl" >/dev/null <<EOF
dn: $SVC_DN
changetype: add
objectClass: user
sAMAccountName: svc-detour
userPrincipalName: svc-detour@corp.example.com
description: Detour ad-ops service account
unicodePwd:: $pw
userAccountControl: 66048

dn: CN=Account Operators,CN=Builtin,$BASE_DN
changetype: modify
add: member
member: $SVC_DN
EOF
  fi
}

# OpenSSH for the tests' simulated Connect servers: the package (its own daemon is never
# started), sshd's privilege-separation directory, and an account that signs in by key only.
ensure_ssh() {
  [ -x /usr/sbin/sshd ] || apt_install openssh-server
  mkdir -p /run/sshd && chmod 0755 /run/sshd
  if ! id -u "$SSH_USER" >/dev/null 2>&1; then
    log "creating the SSH account $SSH_USER"
    useradd --system --shell /bin/sh --home-dir / --no-create-home "$SSH_USER"
  fi
  # '*': no password can match, yet the account is not locked (OpenSSH refuses a locked one).
  # Home '/': sshd changes into it, and says so on the command's stderr when it cannot.
  usermod -p '*' -d / "$SSH_USER"
}

write_env() {
  cat > "$STACK_DIR/stack.env" <<EOF
# Written by deploy/dev-stack.sh up (KEY='value', shell-sourceable); read by the tests and the demo.
DETOUR_STACK_DIR='$STACK_DIR'
DETOUR_AMQP_URL='amqp://guest:guest@127.0.0.1:5672'
DETOUR_RABBITMQ_API='http://127.0.0.1:15672'
DETOUR_RABBITMQ_API_USER='guest'
DETOUR_RABBITMQ_API_PASSWORD='guest'
DETOUR_POSTGRES_URL='postgres://postgres@127.0.0.1:5432/postgres'
DETOUR_LDAP_URL='$LDAP_URL'
DETOUR_LDAP_CA_FILE='$CA'
DETOUR_LDAP_BASE_DN='$BASE_DN'
DETOUR_LDAP_REALM='$REALM'
DETOUR_LDAP_ADMIN_UPN='Administrator@corp.example.com'
DETOUR_LDAP_ADMIN_PASSWORD_FILE='$SECRETS/admin-password.nonl'
DETOUR_LDAP_BIND_DN='$SVC_DN'
DETOUR_LDAP_BIND_PASSWORD_FILE='$SECRETS/svc-password.nonl'
DETOUR_AD_SYNCED_OUS='OU=Staff,OU=Corp,$BASE_DN;OU=Groups,OU=Corp,$BASE_DN'
DETOUR_AD_UNSYNCED_OU='OU=Not Synced,$BASE_DN'
DETOUR_AD_TESTS_OU='OU=Detour Tests,$BASE_DN'
DETOUR_SSH_USER='$SSH_USER'
EOF
}

up() {
  mkdir -p "$STACK_DIR"
  ensure_rabbitmq
  ensure_postgres
  ensure_samba_packages
  provision_samba
  start_samba
  seed_directory
  ensure_ssh
  write_env
  log "up: RabbitMQ, PostgreSQL and Samba AD ($LDAP_URL) are ready; settings in $STACK_DIR/stack.env"
}

down() {
  local pid
  if pid=$(samba_pid); then
    log "stopping Samba ($pid)"
    kill -TERM "$pid"
    local deadline=$((SECONDS + 20))
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  if [ -f "$STACK_DIR/started-rabbitmq" ]; then
    log "stopping RabbitMQ (this script started it)"
    rabbitmqctl -q stop || true
    rm -f "$STACK_DIR/started-rabbitmq"
  fi
  if [ -f "$STACK_DIR/started-postgres" ]; then
    log "stopping PostgreSQL (this script started it)"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main stop || true
    rm -f "$STACK_DIR/started-postgres"
  fi
  log "down"
}

# The samba-ad container's entry point: provision on first start, seed the OU layout and the
# service account, publish what clients need (the CA, the service account's and the
# administrator's passwords) into $DETOUR_SAMBA_PUBLISH, then serve until stopped.
serve_samba() {
  local publish=${DETOUR_SAMBA_PUBLISH:-$STACK_DIR/publish}
  mkdir -p "$STACK_DIR"
  ensure_samba_packages
  DETOUR_SAMBA_XATTRS_IN_TDB=1 provision_samba
  DETOUR_SAMBA_LISTEN_ALL=1 start_samba
  seed_directory
  mkdir -p "$publish"
  cp "$CA" "$publish/ca.pem"
  cp "$SECRETS/svc-password.nonl" "$publish/svc-password"
  cp "$SECRETS/admin-password.nonl" "$publish/admin-password"
  # Read by the services' unprivileged users; the volume is shared with them alone.
  chmod 644 "$publish"/*
  touch "$publish/ready"
  local pid; pid=$(samba_pid) || die "samba is not running"
  trap 'kill -TERM "$pid"; rm -f "$publish/ready"' TERM INT
  log "serving $REALM on port 636; clients' files in $publish"
  while kill -0 "$pid" 2>/dev/null; do sleep 2 & wait $! || true; done
}

status() {
  port_open 5672 && echo "rabbitmq: up" || echo "rabbitmq: down"
  port_open 15672 && echo "rabbitmq management: up" || echo "rabbitmq management: down"
  pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && echo "postgres: up" || echo "postgres: down"
  if pid=$(samba_pid); then echo "samba: up (pid $pid)"; else echo "samba: down"; fi
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  env) echo "$STACK_DIR/stack.env" ;;
  serve-samba) serve_samba ;;
  *) echo "usage: $0 up|down|status|env|serve-samba" >&2; exit 64 ;;
esac
