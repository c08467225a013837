#!/usr/bin/env bash
# Regenerates the verification vectors in vectors/ from artifact.txt and the
# TEST ONLY keys in ../keys. Each vector is a header of "key: value" lines
# that says what to verify with and what must happen, a "---" line, and the
# provenance file itself. Signatures are randomised (RSA-PSS salt, ECDSA
# nonce), so a rerun changes the bytes but not the outcomes.
#
# Needs: tarsctl (TARSCTL, default: go run ./cmd/tarsctl), openssl, python3.
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)
tarsctl=${TARSCTL:-"go run $root/cmd/tarsctl"}
keys=../keys
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

export SOURCE_DATE_EPOCH=1764288000
gen() { # gen KEY OUT
  $tarsctl slsa generate artifact.txt --output "$2" --sign --signing-key "$1" \
    --builder-id https://github.com/tars-ops/tarsctl/.github/workflows/release.yml@refs/tags/v1.0.2 \
    --source-uri git+https://github.com/tars-ops/tarsctl --source-ref refs/tags/v1.0.2 \
    --source-commit 0123456789abcdef0123456789abcdef01234567 --invocation-id https://github.com/tars-ops/tarsctl/actions/runs/1/attempts/1 -q
}
gen $keys/rsa_private.pem "$tmp/rsa.json"
gen $keys/ecdsa_private.pem "$tmp/ecdsa.json"
digest=sha256:$(sha256sum artifact.txt | cut -d' ' -f1)
builder=https://github.com/tars-ops/tarsctl/.github/workflows/release.yml@refs/tags/v1.0.2

vector() { # vector NAME BODY_FILE HEADER...
  local name=$1 body=$2; shift 2
  { printf '%s\n' "$@"; echo ---; cat "$body"; } > "vectors/$name.vector"
}

# resign IN OUT PYTHON-EXPR: edit the statement, then sign it again with
# openssl (RSA-PSS, salt 32) so only the edit is wrong.
resign() {
  python3 - "$1" "$tmp/payload" "$tmp/pae" "$tmp/ptype" "$3" <<'PY'
import base64, json, sys
env = json.load(open(sys.argv[1]))
st = json.loads(base64.b64decode(env["payload"]))
ptype = env["payloadType"]
exec(sys.argv[5])
payload = json.dumps(st, separators=(",", ":")).encode()
open(sys.argv[2], "wb").write(payload)
open(sys.argv[4], "w").write(ptype)
open(sys.argv[3], "wb").write(b"DSSEv1 %d %s %d %s" % (len(ptype), ptype.encode(), len(payload), payload))
PY
  openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 -sign $keys/rsa_private.pem -out "$tmp/sig" "$tmp/pae"
  python3 - "$1" "$tmp/payload" "$tmp/sig" "$tmp/ptype" > "$2" <<'PY'
import base64, json, sys
env = json.load(open(sys.argv[1]))
env["payload"] = base64.b64encode(open(sys.argv[2], "rb").read()).decode()
env["payloadType"] = open(sys.argv[4]).read()
env["signatures"][0]["sig"] = base64.b64encode(open(sys.argv[3], "rb").read()).decode()
print(json.dumps(env, indent=2))
PY
}

# flip FILE FIELD INDEX: flip one bit of a base64 field after decoding.
flip() {
  python3 - "$@" <<'PY'
import base64, json, sys
env = json.load(open(sys.argv[1]))
field, i = sys.argv[2], int(sys.argv[3])
if field == "payload":
    b = bytearray(base64.b64decode(env["payload"])); b[i] ^= 0x01
    env["payload"] = base64.b64encode(bytes(b)).decode()
else:
    b = bytearray(base64.b64decode(env["signatures"][0]["sig"])); b[i] ^= 0x01
    env["signatures"][0]["sig"] = base64.b64encode(bytes(b)).decode()
print(json.dumps(env, indent=2))
PY
}

vector good-rsa "$tmp/rsa.json" "expect: ok" "public-key: rsa_public.pem" "digest: $digest" "builder-id: $builder" "source-uri: github.com/tars-ops/tarsctl"
vector good-rsa-pkcs1-key "$tmp/rsa.json" "expect: ok" "public-key: rsa_public_pkcs1.pem"
vector good-ecdsa "$tmp/ecdsa.json" "expect: ok" "public-key: ecdsa_public.pem" "digest: $digest"
vector wrong-key "$tmp/rsa.json" "expect: ErrWrongKey" "public-key: rsa_other_public.pem"
vector wrong-key-type "$tmp/rsa.json" "expect: ErrWrongKey" "public-key: ecdsa_public.pem"
vector subject-mismatch "$tmp/rsa.json" "expect: ErrSubjectNotFound" "public-key: rsa_public.pem" "digest: sha256:0000000000000000000000000000000000000000000000000000000000000000"
vector builder-mismatch "$tmp/rsa.json" "expect: ErrBuilderMismatch" "public-key: rsa_public.pem" "builder-id: https://evil.example/builder"
vector source-mismatch "$tmp/rsa.json" "expect: ErrSourceMismatch" "public-key: rsa_public.pem" "source-uri: github.com/evil/tarsctl"
vector source-ref-mismatch "$tmp/rsa.json" "expect: ErrSourceMismatch" "public-key: rsa_public.pem" "source-uri: github.com/tars-ops/tarsctl@refs/heads/main"
flip "$tmp/rsa.json" sig 7 > "$tmp/badsig.json"
vector bad-signature "$tmp/badsig.json" "expect: ErrBadSignature" "public-key: rsa_public.pem"
flip "$tmp/rsa.json" payload 40 > "$tmp/badpayload.json"
vector altered-payload "$tmp/badpayload.json" "expect: ErrContentAltered" "public-key: rsa_public.pem"
resign "$tmp/rsa.json" "$tmp/pred.json" 'st["predicateType"] = "https://slsa.dev/provenance/v0.2"'
vector predicate-type "$tmp/pred.json" "expect: ErrPredicateType" "public-key: rsa_public.pem"
resign "$tmp/rsa.json" "$tmp/ptype.json" 'ptype = "application/json"'
vector payload-type "$tmp/ptype.json" "expect: ErrPayloadType" "public-key: rsa_public.pem"
resign "$tmp/rsa.json" "$tmp/stype.json" 'st["_type"] = "https://in-toto.io/Statement/v0.1"'
vector statement-type "$tmp/stype.json" "expect: ErrStatementType" "public-key: rsa_public.pem"
resign "$tmp/rsa.json" "$tmp/nobuilder.json" 'st["predicate"]["runDetails"]["builder"]["id"] = ""'
vector no-builder "$tmp/nobuilder.json" "expect: ErrInvalidStatement" "public-key: rsa_public.pem"
python3 -c 'import json,sys; e=json.load(open(sys.argv[1])); e["signatures"]=[]; print(json.dumps(e, indent=2))' "$tmp/rsa.json" > "$tmp/nosig.json"
vector no-signatures "$tmp/nosig.json" "expect: ErrNoSignature" "public-key: rsa_public.pem"
python3 -c 'import json,sys,base64; e=json.load(open(sys.argv[1])); print(json.dumps(json.loads(base64.b64decode(e["payload"])), indent=2))' "$tmp/rsa.json" > "$tmp/bare.json"
vector unsigned-statement "$tmp/bare.json" "expect: ErrMalformedEnvelope" "public-key: rsa_public.pem"
printf '{"payloadType": "application/vnd.in-toto+json", "payload": "not base64!", "signatures": []}\n' > "$tmp/b64.json"
vector bad-base64 "$tmp/b64.json" "expect: ErrMalformedEnvelope" "public-key: rsa_public.pem"
# A detached signature made by openssl (salt = hash length), for
# pkg/verify's ExampleFile.
openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:-1 -sign $keys/rsa_private.pem -out artifact.txt.sig artifact.txt
echo "wrote $(ls vectors | wc -l) vectors"
