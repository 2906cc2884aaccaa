#!/usr/bin/env bash
# The seed's flow against a running server, step by step: register, log in,
# create a patient, list doctors, map the patient to a doctor, list the
# mappings and the patient's doctors. The README shows this script's
# output; CI runs it against `healthcare dev`, so the two cannot drift.
#
#   docs/walkthrough.sh                      # against http://127.0.0.1:8000
#   BASE=http://host:port docs/walkthrough.sh
#
# Needs bash and curl. Exits non-zero at the first unexpected status.
set -euo pipefail

BASE=${BASE:-http://127.0.0.1:8000}
# A fresh name each run, so the script can be run again on the same data.
USERNAME=${WALK_USERNAME:-avinash_$(date +%s)_$$}
PASSWORD=${WALK_PASSWORD:-mypassword}

# A server on another address is the usual reason for a refused
# connection: say so, and how to point the script at it.
if ! curl -fsS -o /dev/null --max-time 5 "$BASE/healthz" 2>/dev/null; then
  echo "walkthrough: no healthcare server answers at $BASE/healthz." >&2
  echo "Start one (go run ./cmd/healthcare dev), or point the script at yours with BASE=, e.g." >&2
  echo "  BASE=http://127.0.0.1:8001 docs/walkthrough.sh" >&2
  exit 1
fi

# call METHOD PATH EXPECTED_STATUS [JSON_BODY] [TOKEN]: prints the request
# and the answer, sets BODY, fails on any other status.
call() {
  local method=$1 path=$2 want=$3 data=${4:-} token=${5:-}
  local args=(-sS -o /tmp/walkthrough.$$ -w '%{http_code}' -X "$method" "$BASE$path")
  [[ -n $data ]] && args+=(-H 'Content-Type: application/json' -d "$data")
  [[ -n $token ]] && args+=(-H "Authorization: Bearer $token")
  local shown=$data
  [[ -n ${REFRESH:-} ]] && shown=${shown//$REFRESH/\$REFRESH}
  # Show a command that works when pasted: shell variables in double quotes.
  local quoted="'$shown'"
  [[ $shown == *'$REFRESH'* ]] && quoted="\"${shown//\"/\\\"}\""
  echo "\$ curl -X $method $BASE$path${shown:+ -H 'Content-Type: application/json' -d $quoted}${token:+ -H \"Authorization: Bearer \$ACCESS\"}"
  local status
  status=$(curl "${args[@]}")
  BODY=$(cat /tmp/walkthrough.$$)
  rm -f /tmp/walkthrough.$$
  echo "HTTP $status"
  # Tokens are long; show them shortened.
  [[ -n $BODY ]] && sed -E 's/eyJ[A-Za-z0-9_.-]+/<jwt>/g' <<<"$BODY"
  echo
  if [[ $status != "$want" ]]; then
    echo "walkthrough: $method $path answered $status, want $want" >&2
    exit 1
  fi
}

# field NAME: the first value of "NAME" in BODY (strings or numbers).
field() {
  sed -E 's/[[:space:]]+//g' <<<"$BODY" | grep -oE "\"$1\":(\"[^\"]*\"|[0-9]+)" | head -n1 | cut -d: -f2- | tr -d '"'
}

echo "# 1. Register a new user"
call POST /api/auth/register/ 201 "{\"username\": \"$USERNAME\", \"password\": \"$PASSWORD\", \"email\": \"avinash@example.com\"}"

echo "# 2. Log in to get tokens"
call POST /api/auth/login/ 200 "{\"username\": \"$USERNAME\", \"password\": \"$PASSWORD\"}"
ACCESS=$(field access)
REFRESH=$(field refresh)

echo "# 3. Create a patient profile (yours alone)"
call POST /api/patients/ 201 '{"name": "Asha Verma", "age": 34, "gender": "female"}' "$ACCESS"
PATIENT=$(field id)

echo "# 4. List your patients"
call GET /api/patients/ 200 "" "$ACCESS"

echo "# 5. List doctors (public: no token needed)"
call GET '/api/doctors/?limit=2' 200

echo "# 6. Add a doctor and assign them to the patient"
call POST /api/doctors/ 201 '{"name": "Dr. Kiran Shah", "specialization": "Cardiology"}' "$ACCESS"
DOCTOR=$(field id)
call POST /api/mappings/ 201 "{\"patient\": $PATIENT, \"doctor\": $DOCTOR}" "$ACCESS"

echo "# 7. List your mappings"
call GET /api/mappings/ 200 "" "$ACCESS"

echo "# 8. List the doctors of one patient"
call GET "/api/mappings/patient/$PATIENT/" 200 "" "$ACCESS"

echo "# 9. Mapping the same pair twice is a conflict (problem+json)"
call POST /api/mappings/ 409 "{\"patient\": $PATIENT, \"doctor\": $DOCTOR}" "$ACCESS"

# 10. The care view: the patients mapped to the doctor record linked to
# your account. An admin links accounts (PUT /api/doctors/<id>/account/);
# this user's account is linked to none, so the list is empty.
echo "# 10. Your care view (patients mapped to a doctor record linked to you)"
call GET /api/care/patients/ 200 "" "$ACCESS"

echo "# 11. Refresh the tokens, then log out"
call POST /api/auth/refresh/ 200 "{\"refresh\": \"$REFRESH\"}"
REFRESH=$(field refresh)
call POST /api/auth/logout/ 204 "{\"refresh\": \"$REFRESH\"}"

echo "walkthrough: all steps answered as expected"
