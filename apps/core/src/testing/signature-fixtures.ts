import { execFileSync } from 'node:child_process';
import {
  type KeyObject,
  X509Certificate,
  constants,
  createHash,
  createPrivateKey,
  generateKeyPairSync,
  sign,
} from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Real signatures in the formats cosign and notation publish, made with Node's crypto (and openssl for X.509
 * certificates), as the blobs and manifest bytes a client pushes.
 */

const sha256 = (data: Buffer | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';
export const COSIGN_SIMPLESIGNING = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const COSIGN_SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
export const COSIGN_ARTIFACT_TYPE = 'application/vnd.dev.cosign.artifact.sig.v1+json';
export const NOTATION_ARTIFACT_TYPE = 'application/vnd.cncf.notary.signature';
export const JWS_MEDIA_TYPE = 'application/jose+json';
export const NOTATION_PAYLOAD = 'application/vnd.cncf.notary.payload.v1+json';

/** A manifest with the blobs it references, ready to push. */
export interface SignatureArtifact {
  blobs: Buffer[];
  manifest: Buffer;
  digest: string;
}

/** The manifest a signature is over, as the registry stores it. */
export interface Subject {
  digest: string;
  mediaType: string;
  size: number;
}

export interface CosignKeys {
  privateKey: KeyObject;
  publicPem: string;
}

/** An ECDSA P-256 key pair, the kind `cosign generate-key-pair` makes. */
export function cosignKeys(): CosignKeys {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { privateKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

/** cosign's simple-signing payload naming `subject`. */
export function simpleSigningPayload(subject: string, reference = 'wharf.test/app'): Buffer {
  return Buffer.from(
    JSON.stringify({
      critical: {
        identity: { 'docker-reference': reference },
        image: { 'docker-manifest-digest': subject },
        type: 'cosign container image signature',
      },
      optional: null,
    }),
  );
}

/**
 * A cosign signature manifest as `cosign sign` pushes it: one simple-signing layer whose annotation holds the base64
 * ECDSA (ASN.1 DER) signature over the layer's bytes. With `referrers`, the OCI 1.1 form (artifact type, empty config
 * and a subject); otherwise the tag-convention form, with an image config listing the layer.
 * `tamper` changes one byte of the payload after signing.
 */
export function cosignSignature(
  subject: Subject,
  key: KeyObject,
  options: { referrers?: boolean; tamper?: boolean } = {},
): SignatureArtifact {
  const payload = simpleSigningPayload(subject.digest);
  const signature = sign('sha256', payload, key).toString('base64');
  if (options.tamper) payload[payload.indexOf('cosign container image')] ^= 0x01;
  const layer = {
    mediaType: COSIGN_SIMPLESIGNING,
    digest: sha256(payload),
    size: payload.length,
    annotations: { [COSIGN_SIGNATURE_ANNOTATION]: signature },
  };
  if (options.referrers) {
    const config = Buffer.from('{}');
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        artifactType: COSIGN_ARTIFACT_TYPE,
        config: { mediaType: OCI_EMPTY, digest: sha256(config), size: config.length },
        layers: [layer],
        subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
      }),
    );
    return { blobs: [config, payload], manifest, digest: sha256(manifest) };
  }
  const config = Buffer.from(
    JSON.stringify({
      architecture: '',
      created: '0001-01-01T00:00:00Z',
      history: [{ created: '0001-01-01T00:00:00Z' }],
      os: '',
      rootfs: { type: 'layers', diff_ids: [sha256(payload)] },
      config: {},
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: [layer],
    }),
  );
  return { blobs: [config, payload], manifest, digest: sha256(manifest) };
}

/** cosign's tag for the signature of `digest`. */
export const cosignTag = (digest: string) => `${digest.replace(':', '-')}.sig`;

/** A certificate authority and a code-signing certificate it issued, with the leaf's private key. */
export interface NotationPki {
  caPem: string;
  leafPem: string;
  leafKey: KeyObject;
}

/**
 * A self-made CA (ECDSA P-256) and a leaf certificate for code signing, by the openssl command line, as
 * `notation cert generate-test` makes them.
 */
export function notationPki(name: string, options: { rsaLeaf?: boolean } = {}): NotationPki {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-notation-'));
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    run('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'ca.key');
    run(
      'req',
      '-x509',
      '-new',
      '-key',
      'ca.key',
      '-subj',
      `/CN=${name} CA`,
      '-days',
      '2',
      '-out',
      'ca.crt',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign',
    );
    if (options.rsaLeaf) run('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'leaf.key');
    else run('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'leaf.key');
    run('req', '-new', '-key', 'leaf.key', '-subj', `/CN=${name} signer`, '-out', 'leaf.csr');
    writeFileSync(
      join(dir, 'leaf.ext'),
      'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n',
    );
    run(
      'x509',
      '-req',
      '-in',
      'leaf.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '1',
      '-out',
      'leaf.crt',
      '-extfile',
      'leaf.ext',
    );
    return {
      caPem: readFileSync(join(dir, 'ca.crt'), 'utf8'),
      leafPem: readFileSync(join(dir, 'leaf.crt'), 'utf8'),
      leafKey: createPrivateKey(readFileSync(join(dir, 'leaf.key'))),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const der = (pem: string) => new X509Certificate(pem).raw.toString('base64');

/**
 * A notation signature as `notation sign` pushes it: a JWS envelope in JSON serialization (ES256 over the protected
 * header and the payload naming the subject, the x5c chain leaf first in the unprotected header) as the one layer of
 * a manifest of artifact type `application/vnd.cncf.notary.signature` whose subject is the signed manifest.
 * `tamper` adds one byte (a space) to the payload after signing.
 */
export function notationSignature(
  subject: Subject,
  pki: NotationPki,
  options: { tamper?: boolean } = {},
): SignatureArtifact {
  const rsa = pki.leafKey.asymmetricKeyType === 'rsa';
  const protectedHeader = b64url({
    alg: rsa ? 'PS256' : 'ES256',
    crit: ['io.cncf.notary.signingScheme'],
    cty: NOTATION_PAYLOAD,
    'io.cncf.notary.signingScheme': 'notary.x509',
    'io.cncf.notary.signingTime': new Date().toISOString(),
  });
  let payload = b64url({
    targetArtifact: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
  });
  const signature = sign(
    'sha256',
    Buffer.from(`${protectedHeader}.${payload}`),
    rsa
      ? { key: pki.leafKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }
      : { key: pki.leafKey, dsaEncoding: 'ieee-p1363' },
  ).toString('base64url');
  // One byte more that still names the subject: only the signature check can tell.
  if (options.tamper)
    payload = Buffer.concat([Buffer.from(payload, 'base64url'), Buffer.from(' ')]).toString('base64url');
  const envelope = Buffer.from(
    JSON.stringify({
      payload,
      protected: protectedHeader,
      header: { x5c: [der(pki.leafPem), der(pki.caPem)], 'io.cncf.notary.signingAgent': 'notation-go/1.3.0' },
      signature,
    }),
  );
  const config = Buffer.from('{}');
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: NOTATION_ARTIFACT_TYPE,
      config: { mediaType: OCI_EMPTY, digest: sha256(config), size: config.length },
      layers: [{ mediaType: JWS_MEDIA_TYPE, digest: sha256(envelope), size: envelope.length }],
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
      annotations: {
        'io.cncf.notary.x509chain.thumbprint#S256': JSON.stringify(
          [pki.leafPem, pki.caPem].map(
            (pem) => `sha256:${createHash('sha256').update(new X509Certificate(pem).raw).digest('hex')}`,
          ),
        ),
      },
    }),
  );
  return { blobs: [config, envelope], manifest, digest: sha256(manifest) };
}

export const SIGSTORE_BUNDLE = 'application/vnd.dev.sigstore.bundle.v0.3+json';

/** DSSE's pre-authentication encoding. */
function pae(payloadType: string, payload: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${Buffer.byteLength(payloadType)} ${payloadType} ${payload.length} `),
    payload,
  ]);
}

/**
 * A sigstore bundle as `cosign sign --new-bundle-format` attaches it through the referrers API: a DSSE envelope over
 * an in-toto statement naming the subject by its sha256, signed with ECDSA over DSSE's encoding.
 * `tamper` adds one byte to the statement after signing.
 */
export function cosignBundle(subject: Subject, key: KeyObject, options: { tamper?: boolean } = {}): SignatureArtifact {
  let statement = Buffer.from(
    JSON.stringify({
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ name: 'wharf.test/app', digest: { sha256: subject.digest.slice('sha256:'.length) } }],
      predicateType: 'https://sigstore.dev/cosign/sign/v1',
      predicate: {},
    }),
  );
  const payloadType = 'application/vnd.in-toto+json';
  const sig = sign('sha256', pae(payloadType, statement), key).toString('base64');
  if (options.tamper) statement = Buffer.concat([statement, Buffer.from(' ')]);
  const bundle = Buffer.from(
    JSON.stringify({
      mediaType: SIGSTORE_BUNDLE,
      verificationMaterial: { publicKey: { hint: '' }, tlogEntries: [] },
      dsseEnvelope: { payload: statement.toString('base64'), payloadType, signatures: [{ sig, keyid: '' }] },
    }),
  );
  const config = Buffer.from('{}');
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: SIGSTORE_BUNDLE,
      config: { mediaType: OCI_EMPTY, digest: sha256(config), size: config.length },
      layers: [{ mediaType: SIGSTORE_BUNDLE, digest: sha256(bundle), size: bundle.length }],
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
      annotations: { 'dev.sigstore.bundle.predicateType': 'https://sigstore.dev/cosign/sign/v1' },
    }),
  );
  return { blobs: [config, bundle], manifest, digest: sha256(manifest) };
}
