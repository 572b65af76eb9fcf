#!/usr/bin/env bash
# Makes the Secrets the platform reads on a cluster (docs/kubernetes.md), each value fresh and random:
#   sidecar-system/sidecar-admin               token          the admin bearer token (api.yaml)
#   sidecar-system/sidecar-redis               password       Redis's password (redis.yaml; api and worker
#                                                             build SIDECAR_REDIS_URL from it)
#   sidecar-system/sidecar-registry            username, password   what the worker pushes as (worker.yaml)
#   sidecar-system/sidecar-registry-auth       htpasswd       the registry's user, bcrypt (registry.yaml)
#   sidecar-apps/sidecar-registry-pull         .dockerconfigjson    the nodes' pull credentials
#                                                             (SIDECAR_K8S_IMAGE_PULL_SECRET in settings.yaml)
#   sidecar-system/sidecar-builder-tls         ca.pem, cert.pem, key.pem   the build engine's TLS server
#   sidecar-system/sidecar-builder-client-tls  ca.pem, cert.pem, key.pem   the worker's TLS client
# The builder's CA signs one server and one client certificate and is then thrown away: nobody can
# issue another certificate the engine would accept. Nothing is written outside a temporary folder.
#
# Usage: create-secrets.sh              create them with kubectl (fails if one exists: delete it to rotate,
#                                       then restart the pods that read it)
#        create-secrets.sh --out DIR    write them to DIR/<namespace>.<name>.yaml instead (mode 0600)
# Settings (environment): SIDECAR_SYSTEM_NAMESPACE (sidecar-system), SIDECAR_APPS_NAMESPACE (sidecar-apps),
#   SIDECAR_REGISTRY (registry.sidecar-system.svc.cluster.local:5000), SIDECAR_REGISTRY_USER (sidecar),
#   SIDECAR_BUILDER_EXTRA_SANS: more names of the build engine, e.g. DNS:builder.example.com,IP:10.0.0.5
# Needs openssl and, for the bcrypt hash, htpasswd (apache2-utils / httpd-tools) or Python 3 <= 3.12.
set -euo pipefail

system_ns=${SIDECAR_SYSTEM_NAMESPACE:-sidecar-system}
apps_ns=${SIDECAR_APPS_NAMESPACE:-sidecar-apps}
registry=${SIDECAR_REGISTRY:-registry.sidecar-system.svc.cluster.local:5000}
registry_user=${SIDECAR_REGISTRY_USER:-sidecar}
out=""
if [ "${1:-}" = "--out" ]; then
  out=${2:?--out needs a folder}
elif [ $# -gt 0 ]; then
  echo "usage: $0 [--out DIR]" >&2
  exit 2
fi

need() { command -v "$1" >/dev/null 2>&1 || { echo "$0: $1 is needed${2:+ ($2)}" >&2; exit 1; }; }
need openssl
[ -n "$out" ] || need kubectl

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
umask 077

# ---- random values (hex: safe in a URL, a config line and JSON) ---------------------------------------
admin_token=$(openssl rand -hex 24)
redis_password=$(openssl rand -hex 32)
registry_password=$(openssl rand -hex 32)

# ---- the registry's htpasswd line (distribution accepts bcrypt only) -----------------------------------
if command -v htpasswd >/dev/null 2>&1; then
  htpasswd_line=$(htpasswd -nbB "$registry_user" "$registry_password" | head -n 1)
elif command -v python3 >/dev/null 2>&1 && python3 -c 'import crypt' 2>/dev/null; then
  htpasswd_line=$(REGISTRY_PASSWORD="$registry_password" python3 -W ignore -c '
import crypt, os, sys
print(sys.argv[1] + ":" + crypt.crypt(os.environ["REGISTRY_PASSWORD"], crypt.mksalt(crypt.METHOD_BLOWFISH)))
' "$registry_user")
else
  echo "$0: htpasswd (apache2-utils / httpd-tools) is needed for the registry's bcrypt hash" >&2
  exit 1
fi
case "$htpasswd_line" in "$registry_user":\$2[aby]\$*) ;; *) echo "$0: no bcrypt hash was made" >&2; exit 1 ;; esac

# ---- the build engine's CA, server and client certificates (ECDSA P-256) --------------------------------
ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
ec "$work/ca-key.pem"
openssl req -x509 -new -key "$work/ca-key.pem" -sha256 -days 825 -subj "/CN=sidecar-builder-ca" \
  -addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign" \
  -out "$work/ca.pem" 2>/dev/null
sign() { # name subject extensions
  ec "$work/$1-key.pem"
  openssl req -new -key "$work/$1-key.pem" -subj "$2" -out "$work/$1.csr" 2>/dev/null
  printf '%s\n' "$3" >"$work/$1.ext"
  openssl x509 -req -in "$work/$1.csr" -CA "$work/ca.pem" -CAkey "$work/ca-key.pem" -CAcreateserial \
    -sha256 -days 825 -extfile "$work/$1.ext" -out "$work/$1.pem" 2>/dev/null
}
sans="DNS:builder,DNS:builder.$system_ns,DNS:builder.$system_ns.svc,DNS:builder.$system_ns.svc.cluster.local"
sign server "/CN=builder.$system_ns.svc" \
  "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=$sans${SIDECAR_BUILDER_EXTRA_SANS:+,$SIDECAR_BUILDER_EXTRA_SANS}"
sign client "/CN=sidecar-worker" \
  "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"
rm -f "$work/ca-key.pem" # signed what it must: no further certificate can be made

# ---- the Secrets -------------------------------------------------------------------------------------------
b64() { base64 | tr -d '\n'; }
registry_auth=$(printf '%s:%s' "$registry_user" "$registry_password" | b64)
dockerconfig=$(printf '{"auths":{"%s":{"username":"%s","password":"%s","auth":"%s"}}}' \
  "$registry" "$registry_user" "$registry_password" "$registry_auth")

# secret NAMESPACE NAME TYPE KEY=FILE...: one Secret manifest, values base64-encoded from files.
secret() {
  local ns=$1 name=$2 type=$3
  shift 3
  printf 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\n  namespace: %s\n  labels:\n    app.kubernetes.io/part-of: sidecar-paas\ntype: %s\ndata:\n' \
    "$name" "$ns" "$type"
  local pair
  for pair in "$@"; do printf '  %s: %s\n' "${pair%%=*}" "$(b64 <"${pair#*=}")"; done
}
value() { printf '%s' "$2" >"$work/$1"; }
value admin-token "$admin_token"
value redis-password "$redis_password"
value registry-user "$registry_user"
value registry-password "$registry_password"
printf '%s\n' "$htpasswd_line" >"$work/htpasswd"
value dockerconfig "$dockerconfig"

emit() { # file-name, then the manifest on stdin
  if [ -n "$out" ]; then
    mkdir -p "$out"
    cat >"$out/$1.yaml"
  else
    kubectl create -f -
  fi
}
secret "$system_ns" sidecar-admin Opaque token="$work/admin-token" | emit "$system_ns.sidecar-admin"
secret "$system_ns" sidecar-redis Opaque password="$work/redis-password" | emit "$system_ns.sidecar-redis"
secret "$system_ns" sidecar-registry Opaque username="$work/registry-user" password="$work/registry-password" |
  emit "$system_ns.sidecar-registry"
secret "$system_ns" sidecar-registry-auth Opaque htpasswd="$work/htpasswd" | emit "$system_ns.sidecar-registry-auth"
secret "$apps_ns" sidecar-registry-pull kubernetes.io/dockerconfigjson .dockerconfigjson="$work/dockerconfig" |
  emit "$apps_ns.sidecar-registry-pull"
secret "$system_ns" sidecar-builder-tls Opaque \
  ca.pem="$work/ca.pem" cert.pem="$work/server.pem" key.pem="$work/server-key.pem" |
  emit "$system_ns.sidecar-builder-tls"
secret "$system_ns" sidecar-builder-client-tls Opaque \
  ca.pem="$work/ca.pem" cert.pem="$work/client.pem" key.pem="$work/client-key.pem" |
  emit "$system_ns.sidecar-builder-client-tls"
