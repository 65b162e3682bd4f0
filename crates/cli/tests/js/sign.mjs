// Signs with the unmodified sigstore-js (`sign` / `attest` from the `sigstore` package) against a
// running Hallmark: its CA as `fulcioURL`, its log as `rekorURL`, no TSA. Writes the bundle sigstore-js
// returns, byte for byte as it serialises it.
//
//   node sign.mjs sign   ARTIFACT  BUNDLE_OUT
//   node sign.mjs attest STATEMENT BUNDLE_OUT [PAYLOAD_TYPE]   (default application/vnd.in-toto+json)
//
// Environment (the token is a secret: never on the command line):
//   HALLMARK_URL        the server's base URL (Fulcio v2 and Rekor v1 APIs)
//   SIGSTORE_ID_TOKEN   the OIDC identity token, passed to sigstore-js as `identityToken`
//
// Exit 0 with the bundle's media type on stdout; on failure exit 1 with sigstore-js's error (its
// code, message and cause chain) on stderr.
import { readFileSync, writeFileSync } from 'node:fs';
import { attest, sign } from 'sigstore';

function usage(message) {
  process.stderr.write(`${message}\nusage: node sign.mjs sign|attest INPUT BUNDLE_OUT [PAYLOAD_TYPE]\n`);
  process.exit(2);
}

const [mode, input, output, payloadType = 'application/vnd.in-toto+json'] = process.argv.slice(2);
if (!['sign', 'attest'].includes(mode) || !input || !output) usage('missing arguments');
const url = process.env.HALLMARK_URL;
const identityToken = process.env.SIGSTORE_ID_TOKEN;
if (!url) usage('HALLMARK_URL is not set');
if (!identityToken) usage('SIGSTORE_ID_TOKEN is not set');

const options = {
  fulcioURL: url,
  rekorURL: url,
  identityToken,
  // A busy CI machine signs through SoftHSM: allow more than the 5 s default, and do not retry
  // (a retried log upload would answer 409 for the entry the first attempt made).
  timeout: 60_000,
  retry: { retries: 0 },
};

function describe(err) {
  const lines = [];
  for (let e = err, depth = 0; e && depth < 5; e = e.cause, depth++) {
    lines.push(`${'  '.repeat(depth)}${e.name ?? 'Error'}${e.code ? ` [${e.code}]` : ''}: ${e.message}`);
  }
  return lines.join('\n');
}

try {
  const data = readFileSync(input);
  const bundle = mode === 'sign'
    ? await sign(data, options)
    : await attest(data, payloadType, options);
  writeFileSync(output, JSON.stringify(bundle));
  process.stdout.write(`${bundle.mediaType}\n`);
} catch (err) {
  process.stderr.write(`sigstore-js ${mode} failed:\n${describe(err)}\n`);
  process.exit(1);
}
