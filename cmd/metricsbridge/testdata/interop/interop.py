"""Signs and verifies HS256 tokens with PyJWT (Debian's python3-jwt), the
library the Python gateway (ContextForge) mints its tokens with, so the Go tests can
check that tokens cross in both directions.

  python3 interop.py gateway <secret-file>                      prints a token made as the gateway makes it
  python3 interop.py verify  <secret-file> <aud> <iss> <token>  prints the payload, or the error and exits 1

The secret file holds the raw key.
"""
import json
import sys
import time
import uuid

import jwt

op, secret_file = sys.argv[1], sys.argv[2]
with open(secret_file, "rb") as f:
    secret = f.read()

try:
    if op == "gateway":
        # The claims of the gateway's token tool: no exp, a uuid4 jti.
        now = int(time.time())
        payload = {
            "username": "prometheus@monitoring",
            "sub": "prometheus@monitoring",
            "iat": now,
            "iss": "mcpgateway",
            "aud": "mcpgateway-api",
            "jti": str(uuid.uuid4()),
        }
        print(jwt.encode(payload, secret, algorithm="HS256"))
    elif op == "verify":
        aud, iss, token = sys.argv[3], sys.argv[4], sys.argv[5]
        payload = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            audience=aud,
            issuer=iss,
            options={"require": ["sub", "iat", "jti", "aud", "iss"]},
        )
        print(json.dumps(payload))
    else:
        raise ValueError("unknown operation " + op)
except Exception as e:  # noqa: BLE001 - the test reads the message
    print("PyJWT: %s: %s" % (type(e).__name__, e), file=sys.stderr)
    sys.exit(1)
