#!/bin/sh
# tls-audit.sh -- `make tls-audit`: run testssl.sh (Debian package, installed
# here when missing) against `sockkit serve http --self-signed` on a free
# loopback port, and print its protocol, cipher and vulnerability findings.
# Exits 1 when testssl.sh finds SSLv2/SSLv3/TLS 1.0/TLS 1.1 offered, weak
# cipher categories offered, or any finding of severity MEDIUM or worse other
# than those about the certificate itself (a self-signed development
# certificate is untrusted, short-lived and has no revocation URI by design;
# those are listed apart). The full report goes to build/tls-audit/ (text
# and JSON).
set -eu
cd "$(dirname "$0")/.."
SOCKKIT=${SOCKKIT:-build/sockkit}
OUT=build/tls-audit
mkdir -p "$OUT"

if ! command -v testssl >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ]; then
        echo "tls-audit: testssl.sh is missing; run as root: apt-get install -y testssl.sh" >&2
        exit 1
    fi
    echo "tls-audit: installing testssl.sh" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends testssl.sh bsdextrautils >/dev/null 2>&1 ||
        { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends testssl.sh bsdextrautils >&2; }
fi

WEB=$(mktemp -d /tmp/sockkit-tls-audit.XXXXXX)
echo "<h1>tls audit</h1>" >"$WEB/index.html"
# The server lives at most 15 minutes, whatever happens to this script.
timeout -s TERM 900 "$SOCKKIT" serve http "$WEB" --listen tls://127.0.0.1:0 --self-signed \
    --workers 1 2>"$OUT/server.err" &
WRAP=$!
cleanup() {
    kill -TERM "$WRAP" 2>/dev/null || true
    wait "$WRAP" 2>/dev/null || true
    rm -rf "$WEB"
}
trap cleanup EXIT INT TERM
port=""
for _ in $(seq 1 50); do
    port=$(sed -n 's|.*listening on tls://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$OUT/server.err" | head -1)
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || { echo "tls-audit: the server did not start:" >&2; cat "$OUT/server.err" >&2; exit 1; }

rm -f "$OUT/testssl.json" "$OUT/testssl.txt"
# Protocols, cipher categories, forward secrecy, server preferences, the
# server defaults (tickets, resumption) and the known vulnerabilities.
timeout 800 testssl --quiet --color 0 --warnings off --ip 127.0.0.1 -p -s -f -P -S -U \
    --jsonfile "$OUT/testssl.json" "127.0.0.1:$port" >"$OUT/testssl.txt" 2>&1 || true

python3 - "$OUT/testssl.json" <<'PY'
import json, sys
findings = json.load(open(sys.argv[1]))
get = {f["id"]: f for f in findings}
def show(i):
    f = get.get(i)
    return "%-22s %s" % (i, f["finding"] if f else "(not reported)")
print("testssl.sh summary (sockkit serve http --self-signed):")
for i in ("SSLv2", "SSLv3", "TLS1", "TLS1_1", "TLS1_2", "TLS1_3", "ALPN",
          "cipherlist_NULL", "cipherlist_aNULL", "cipherlist_EXPORT", "cipherlist_LOW",
          "cipherlist_3DES_IDEA", "cipherlist_AVERAGE", "cipherlist_STRONG", "cipher_order",
          "TLS_session_ticket",
          "sessionresumption_ticket", "sessionresumption_ID", "secure_renego",
          "secure_client_renego", "CRIME_TLS", "heartbleed", "ROBOT", "POODLE_SSL", "BEAST",
          "SWEET32", "LUCKY13", "FREAK", "LOGJAM", "DROWN"):
    print("  " + show(i))
cert = [f for f in findings if f["id"].startswith("cert")]
bad = [f for f in findings if f.get("severity") in ("MEDIUM", "HIGH", "CRITICAL")
       and not f["id"].startswith("cert")]
old = [i for i in ("SSLv2", "SSLv3", "TLS1", "TLS1_1", "cipherlist_NULL", "cipherlist_aNULL",
                   "cipherlist_EXPORT", "cipherlist_LOW", "cipherlist_3DES_IDEA")
       if i in get and "not offered" not in get[i]["finding"]]
sev = {}
for f in findings:
    sev[f.get("severity", "?")] = sev.get(f.get("severity", "?"), 0) + 1
print("severities: " + ", ".join("%s=%d" % kv for kv in sorted(sev.items())))
for f in cert:
    if f.get("severity") not in ("OK", "INFO"):
        print("certificate (expected for --self-signed): %s: %s" % (f["id"], f["finding"]))
for f in bad:
    print("PROBLEM %s: %s: %s" % (f["severity"], f["id"], f["finding"]))
if old:
    print("PROBLEM: weak protocols or ciphers offered: " + ", ".join(old))
print("result: %s" % ("FAILED" if bad or old else "passed"))
sys.exit(1 if bad or old else 0)
PY
