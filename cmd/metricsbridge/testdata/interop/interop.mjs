// Signs and verifies tokens with two widely used JWT libraries so the Go
// tests can check that tokens cross in both directions.
//
//   node interop.mjs sign   <jose|jsonwebtoken> <alg> <key-file> <claims-json>
//   node interop.mjs verify <jose|jsonwebtoken> <alg> <key-file> <token>
//
// The key file holds the raw secret for HS* and a PEM key otherwise (PKCS #8
// private key to sign, SPKI public key to verify). sign prints the token;
// verify prints the payload as JSON, or the library's error and exits 1.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(process.env.INTEROP_NODE_MODULES + "/");
const jose = require("jose");
const jsonwebtoken = require("jsonwebtoken");

const [op, lib, alg, keyFile, arg] = process.argv.slice(2);
const raw = readFileSync(keyFile);
const hmac = alg.startsWith("HS");

async function joseKey(usage) {
  if (hmac) return new Uint8Array(raw);
  const pem = raw.toString("utf8");
  return usage === "sign" ? jose.importPKCS8(pem, alg) : jose.importSPKI(pem, alg);
}

try {
  if (op === "sign") {
    const claims = JSON.parse(arg);
    if (lib === "jose") {
      const token = await new jose.SignJWT(claims)
        .setProtectedHeader({ alg, typ: "JWT" })
        .setIssuedAt()
        .sign(await joseKey("sign"));
      console.log(token);
    } else {
      console.log(jsonwebtoken.sign(claims, hmac ? raw : raw.toString("utf8"), { algorithm: alg }));
    }
  } else if (op === "verify") {
    let payload;
    if (lib === "jose") {
      ({ payload } = await jose.jwtVerify(arg, await joseKey("verify"), { algorithms: [alg] }));
    } else {
      payload = jsonwebtoken.verify(arg, hmac ? raw : raw.toString("utf8"), { algorithms: [alg] });
    }
    console.log(JSON.stringify(payload));
  } else {
    throw new Error("unknown operation " + op);
  }
} catch (e) {
  console.error(`${lib}: ${e.code ?? e.name}: ${e.message}`);
  process.exit(1);
}
