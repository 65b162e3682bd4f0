// Verifies a bundle with the unmodified sigstore-js verifier against a custom trust root: the
// same pieces `sigstore.verify` is built from (`@sigstore/bundle` to parse, `@sigstore/verify` to
// check), with the trusted root read from a file instead of the public-good TUF repository.
//
//   node verify.mjs --trusted-root ROOT --bundle BUNDLE [--artifact FILE] --identity SAN --issuer URL
//
// The identity policy is exact: the certificate's SAN must equal SAN (an anchored, escaped
// pattern, as the sigstore docs advise) and its OIDC issuer extension must equal URL. --artifact
// is required for message signatures; a DSSE bundle carries its payload.
//
// Prints one JSON line on stdout and exits:
//   0  {"verified":true,"subjectAlternativeName":...,"issuer":...}
//   1  {"verified":false,"error":"VerificationError"|"PolicyError"|"ValidationError","code":...,"message":...}
//      (sigstore-js rejected the bundle)
//   2  anything else (bad usage, unreadable file): message on stderr
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ValidationError, bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import {
  PolicyError,
  VerificationError,
  Verifier,
  toSignedEntity,
  toTrustMaterial,
} from '@sigstore/verify';

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      'trusted-root': { type: 'string' },
      bundle: { type: 'string' },
      artifact: { type: 'string' },
      identity: { type: 'string' },
      issuer: { type: 'string' },
    },
  }));
  for (const required of ['trusted-root', 'bundle', 'identity', 'issuer']) {
    if (!args[required]) throw new Error(`--${required} is required`);
  }
} catch (err) {
  process.stderr.write(`${err.message}\nusage: node verify.mjs --trusted-root ROOT --bundle BUNDLE [--artifact FILE] --identity SAN --issuer URL\n`);
  process.exit(2);
}

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const readJSON = (path) => JSON.parse(readFileSync(path, 'utf8'));

let trustedRoot, bundleJSON, artifact;
try {
  trustedRoot = TrustedRoot.fromJSON(readJSON(args['trusted-root']));
  bundleJSON = readJSON(args.bundle);
  artifact = args.artifact === undefined ? undefined : readFileSync(args.artifact);
} catch (err) {
  process.stderr.write(`${err.message}\n`);
  process.exit(2);
}

const policy = {
  subjectAlternativeName: `^${escape(args.identity)}$`,
  extensions: { issuer: args.issuer },
};

try {
  const verifier = new Verifier(toTrustMaterial(trustedRoot));
  const entity = toSignedEntity(bundleFromJSON(bundleJSON), artifact);
  const signer = verifier.verify(entity, policy);
  process.stdout.write(`${JSON.stringify({
    verified: true,
    subjectAlternativeName: signer.identity?.subjectAlternativeName,
    issuer: signer.identity?.extensions?.issuer,
  })}\n`);
} catch (err) {
  const kind = [VerificationError, PolicyError, ValidationError].find((k) => err instanceof k);
  if (!kind) {
    process.stderr.write(`${err.stack ?? err}\n`);
    process.exit(2);
  }
  process.stdout.write(`${JSON.stringify({
    verified: false,
    error: kind.name,
    code: err.code ?? null,
    message: err.message,
    cause: err.cause?.message ?? null,
  })}\n`);
  process.exit(1);
}
