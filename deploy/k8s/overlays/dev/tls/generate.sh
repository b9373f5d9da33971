#!/usr/bin/env sh
# Writes the dev overlay's TLS files (dev only: committed, hence public,
# never use them where data matters): a CA (ca.crt; its key is thrown away),
# each service's certificate and key (<service>.crt/.key, valid for the bare
# name and its fiveledger-dev Service names, server and client use) and an
# operator's client certificate (client.crt/.key, valid for no service).
# Valid for 100 years. Run from this folder: sh generate.sh
set -eu
ns=fiveledger-dev
days=36500
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }

key "$work/ca.key"
openssl req -x509 -new -key "$work/ca.key" -subj "/CN=fiveledger dev CA" -days $days \
  -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.crt

leaf() { # name extensions
  key "$1.key"
  openssl req -new -key "$1.key" -subj "/CN=$1" -out "$work/$1.csr"
  printf '%s\n' "$2" >"$work/$1.ext"
  openssl x509 -req -in "$work/$1.csr" -CA ca.crt -CAkey "$work/ca.key" -CAcreateserial \
    -days $days -extfile "$work/$1.ext" -out "$1.crt"
}
for s in rounds issues ledgers; do
  leaf $s "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=DNS:$s,DNS:$s.$ns.svc,DNS:$s.$ns.svc.cluster.local"
done
leaf client "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"
rm -f ca.srl
