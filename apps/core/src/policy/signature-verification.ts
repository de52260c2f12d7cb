import { X509Certificate, type KeyObject, constants, createHash, createPublicKey, verify } from 'node:crypto';
import {
  COSIGN_SIGNATURE_ANNOTATION,
  COSIGN_SIMPLESIGNING_MEDIA_TYPE,
  NOTATION_SIGNATURE_ARTIFACT_TYPE,
  SIGSTORE_BUNDLE_ARTIFACT_TYPE,
} from '@wharf/oci';

export type TrustedKeyType = 'cosign' | 'notation';

/** The media type of a notation signature envelope in JWS JSON serialization. */
export const NOTATION_JWS_MEDIA_TYPE = 'application/jose+json';
/** The content type a notation signature's protected header names for its payload. */
export const NOTATION_PAYLOAD_CONTENT_TYPE = 'application/vnd.cncf.notary.payload.v1+json';

/** Curves a cosign key may use: those cosign itself generates and verifies with. */
const COSIGN_CURVES = new Set(['prime256v1', 'secp384r1', 'secp521r1']);
/** Signature blobs larger than this are not read: real ones are a few kilobytes. */
export const MAX_SIGNATURE_BLOB_BYTES = 1024 * 1024;

/** A refused PEM: the message says why, for a 400. */
export class TrustedKeyError extends Error {}

export interface ParsedTrustedKey {
  /** SHA-256 of the key's SubjectPublicKeyInfo (cosign) or of the certificate's DER (notation), hex with colons. */
  fingerprint: string;
  /** The PEM normalised: the one public key or certificate, nothing else. */
  pem: string;
}

const colonHex = (hex: string) => hex.toUpperCase().replace(/(..)(?!$)/g, '$1:');

/**
 * Reads a cosign public key (PEM: ECDSA P-256/P-384/P-521 or RSA of at least 2048 bits); private keys, certificates
 * and anything else are refused.
 */
export function parseCosignKey(pem: string): ParsedTrustedKey {
  if (/PRIVATE KEY/.test(pem)) throw new TrustedKeyError('pem: a private key; give the public key only');
  const blocks = pem.match(/-----BEGIN [A-Z ]+-----/g) ?? [];
  if (blocks.length !== 1 || blocks[0] !== '-----BEGIN PUBLIC KEY-----') {
    throw new TrustedKeyError('pem: give exactly one PEM block "PUBLIC KEY"');
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch {
    throw new TrustedKeyError('pem: not a readable public key');
  }
  checkKeyKind(key, 'pem');
  const spki = key.export({ type: 'spki', format: 'der' });
  return {
    fingerprint: colonHex(createHash('sha256').update(spki).digest('hex')),
    pem: key.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

function checkKeyKind(key: KeyObject, where: string): void {
  const type = key.asymmetricKeyType;
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve ?? '';
    if (!COSIGN_CURVES.has(curve))
      throw new TrustedKeyError(`${where}: the curve ${curve || '(unknown)'} is not supported`);
    return;
  }
  if (type === 'rsa') {
    if ((key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) {
      throw new TrustedKeyError(`${where}: an RSA key must have at least 2048 bits`);
    }
    return;
  }
  throw new TrustedKeyError(`${where}: a ${type ?? 'unknown'} key; ECDSA or RSA keys only`);
}

/** Reads one notation trust-store certificate (PEM X.509, a CA or a signing certificate). */
export function parseNotationCertificate(pem: string): ParsedTrustedKey {
  if (/PRIVATE KEY/.test(pem)) throw new TrustedKeyError('pem: a private key; give the certificate only');
  const blocks = pem.match(/-----BEGIN [A-Z ]+-----/g) ?? [];
  if (blocks.length !== 1 || blocks[0] !== '-----BEGIN CERTIFICATE-----') {
    throw new TrustedKeyError('pem: give exactly one PEM block "CERTIFICATE"');
  }
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(pem);
  } catch {
    throw new TrustedKeyError('pem: not a readable X.509 certificate');
  }
  checkKeyKind(certificate.publicKey, 'pem: the certificate key');
  return { fingerprint: certificate.fingerprint256, pem: certificate.toString() };
}

export function parseTrustedKey(type: TrustedKeyType, pem: string): ParsedTrustedKey {
  return type === 'cosign' ? parseCosignKey(pem) : parseNotationCertificate(pem);
}

/** The keys of one type a project trusts, ready to verify with. */
export interface TrustedKeySet {
  cosign: KeyObject[];
  notation: X509Certificate[];
}

export function trustedKeySet(keys: readonly { type: TrustedKeyType; pem: string }[]): TrustedKeySet {
  const set: TrustedKeySet = { cosign: [], notation: [] };
  for (const key of keys) {
    // Stored keys were checked when they were added; one that no longer parses trusts nothing.
    try {
      if (key.type === 'cosign') set.cosign.push(createPublicKey(key.pem));
      else set.notation.push(new X509Certificate(key.pem));
    } catch {
      continue;
    }
  }
  return set;
}

/** The manifest a signature is over, as notation's payload names it. */
export interface SignedSubject {
  digest: string;
  mediaType: string;
  size: number;
}

interface Descriptor {
  mediaType?: unknown;
  digest?: unknown;
  size?: unknown;
  annotations?: Record<string, unknown>;
}

/** Reads a blob of the signature's repository by digest; null when it is not there. */
export type BlobReader = (digest: string) => Promise<Buffer | null>;

function layersOf(manifest: Buffer): Descriptor[] {
  try {
    const parsed = JSON.parse(manifest.toString('utf8')) as { layers?: unknown };
    return Array.isArray(parsed.layers) ? (parsed.layers as Descriptor[]) : [];
  } catch {
    return [];
  }
}

function artifactTypeOf(manifest: Buffer): unknown {
  try {
    const parsed = JSON.parse(manifest.toString('utf8')) as { artifactType?: unknown; config?: Descriptor };
    return parsed.artifactType ?? parsed.config?.mediaType;
  } catch {
    return undefined;
  }
}

async function readLayer(layer: Descriptor, read: BlobReader): Promise<Buffer | null> {
  if (typeof layer.digest !== 'string' || !layer.digest.startsWith('sha256:')) return null;
  if (typeof layer.size !== 'number' || layer.size > MAX_SIGNATURE_BLOB_BYTES) return null;
  const blob = await read(layer.digest);
  if (!blob || `sha256:${createHash('sha256').update(blob).digest('hex')}` !== layer.digest) return null;
  return blob;
}

/**
 * Whether a cosign signature manifest holds a simple-signing layer that one of `keys` signed (the layer's
 * `dev.cosignproject.cosign/signature` annotation, over the layer's bytes) and whose payload names `subject`.
 */
export async function verifyCosignSignature(
  manifest: Buffer,
  subject: string,
  keys: readonly KeyObject[],
  read: BlobReader,
): Promise<boolean> {
  for (const layer of layersOf(manifest)) {
    if (layer.mediaType === SIGSTORE_BUNDLE_ARTIFACT_TYPE) {
      const blob = await readLayer(layer, read);
      if (blob && verifyBundle(blob, subject, keys)) return true;
      continue;
    }
    if (layer.mediaType !== COSIGN_SIMPLESIGNING_MEDIA_TYPE) continue;
    const annotation = layer.annotations?.[COSIGN_SIGNATURE_ANNOTATION];
    if (typeof annotation !== 'string') continue;
    const blob = await readLayer(layer, read);
    if (!blob) continue;
    let named: unknown;
    try {
      const payload = JSON.parse(blob.toString('utf8')) as { critical?: { image?: Record<string, unknown> } };
      named = payload.critical?.image?.['docker-manifest-digest'];
    } catch {
      continue;
    }
    if (named !== subject) continue;
    const signature = Buffer.from(annotation, 'base64');
    if (keys.some((key) => safeVerify('sha256', blob, key, signature))) return true;
  }
  return false;
}

/** The in-toto statement type a DSSE envelope of a sigstore bundle carries. */
const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

/** DSSE's pre-authentication encoding: what a DSSE signature is over. */
export function dssePae(payloadType: string, payload: Buffer): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${payload.length} `), payload]);
}

/**
 * A sigstore bundle (v0.3) as `cosign sign --new-bundle-format` attaches it through the referrers API: a DSSE envelope
 * whose in-toto statement names the subject by its sha256, signed by one of `keys` over DSSE's encoding.
 */
function verifyBundle(blob: Buffer, subject: string, keys: readonly KeyObject[]): boolean {
  let bundle: { dsseEnvelope?: { payload?: unknown; payloadType?: unknown; signatures?: unknown } };
  try {
    bundle = JSON.parse(blob.toString('utf8')) as typeof bundle;
  } catch {
    return false;
  }
  const envelope = bundle.dsseEnvelope;
  if (!envelope || typeof envelope.payload !== 'string' || envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE) return false;
  if (!Array.isArray(envelope.signatures)) return false;
  const payload = Buffer.from(envelope.payload, 'base64');
  let statement: { subject?: { digest?: Record<string, unknown> }[] };
  try {
    statement = JSON.parse(payload.toString('utf8')) as typeof statement;
  } catch {
    return false;
  }
  const hex = subject.startsWith('sha256:') ? subject.slice('sha256:'.length) : '';
  if (!Array.isArray(statement.subject) || !statement.subject.some((s) => s?.digest?.sha256 === hex)) return false;
  const signed = dssePae(IN_TOTO_PAYLOAD_TYPE, payload);
  return (envelope.signatures as { sig?: unknown }[]).some(
    (entry) =>
      typeof entry?.sig === 'string' &&
      keys.some((key) => safeVerify('sha256', signed, key, Buffer.from(entry.sig as string, 'base64'))),
  );
}

function safeVerify(
  hash: string,
  data: Buffer,
  key: KeyObject | { key: KeyObject; padding?: number; saltLength?: number; dsaEncoding?: 'der' | 'ieee-p1363' },
  signature: Buffer,
): boolean {
  try {
    return verify(hash, data, key, signature);
  } catch {
    return false;
  }
}

/** JWS algorithms notation signs with: RSASSA-PSS and ECDSA over SHA-2. */
const JWS_ALGORITHMS: Record<string, { hash: string; pss: boolean; saltLength: number }> = {
  PS256: { hash: 'sha256', pss: true, saltLength: 32 },
  PS384: { hash: 'sha384', pss: true, saltLength: 48 },
  PS512: { hash: 'sha512', pss: true, saltLength: 64 },
  ES256: { hash: 'sha256', pss: false, saltLength: 0 },
  ES384: { hash: 'sha384', pss: false, saltLength: 0 },
  ES512: { hash: 'sha512', pss: false, saltLength: 0 },
};

interface JwsEnvelope {
  payload?: unknown;
  protected?: unknown;
  header?: { x5c?: unknown };
  signature?: unknown;
}

function decodeJson<T>(base64url: string): T | null {
  try {
    return JSON.parse(Buffer.from(base64url, 'base64url').toString('utf8')) as T;
  } catch {
    return null;
  }
}

/**
 * Whether the chain (leaf first) is well formed, valid at `now`, and reaches a certificate of the trust store: one of
 * its certificates is in the store, or the last one was issued and signed by a certificate in it.
 */
function chainTrusted(chain: readonly X509Certificate[], store: readonly X509Certificate[], now: Date): boolean {
  const valid = (c: X509Certificate) => new Date(c.validFrom) <= now && now <= new Date(c.validTo);
  if (chain.length === 0 || !chain.every(valid)) return false;
  for (let i = 0; i + 1 < chain.length; i++) {
    const [child, issuer] = [chain[i], chain[i + 1]];
    if (!child.checkIssued(issuer) || !child.verify(issuer.publicKey)) return false;
  }
  for (const certificate of chain) {
    if (store.some((trusted) => trusted.fingerprint256 === certificate.fingerprint256)) return true;
  }
  const last = chain[chain.length - 1];
  return store.some((trusted) => valid(trusted) && last.checkIssued(trusted) && last.verify(trusted.publicKey));
}

/**
 * Whether a notation signature manifest holds a JWS envelope (`application/jose+json`) signed by the leaf of its
 * x5c chain, the chain reaching the trust store, and its payload naming `subject` (digest, media type and size).
 */
export async function verifyNotationSignature(
  manifest: Buffer,
  subject: SignedSubject,
  store: readonly X509Certificate[],
  read: BlobReader,
  now = new Date(),
): Promise<boolean> {
  if (artifactTypeOf(manifest) !== NOTATION_SIGNATURE_ARTIFACT_TYPE) return false;
  for (const layer of layersOf(manifest)) {
    if (layer.mediaType !== NOTATION_JWS_MEDIA_TYPE) continue;
    const blob = await readLayer(layer, read);
    if (!blob) continue;
    if (verifyJws(blob, subject, store, now)) return true;
  }
  return false;
}

function verifyJws(blob: Buffer, subject: SignedSubject, store: readonly X509Certificate[], now: Date): boolean {
  let envelope: JwsEnvelope;
  try {
    envelope = JSON.parse(blob.toString('utf8')) as JwsEnvelope;
  } catch {
    return false;
  }
  const { payload, protected: header, signature } = envelope;
  const x5c = envelope.header?.x5c;
  if (typeof payload !== 'string' || typeof header !== 'string' || typeof signature !== 'string') return false;
  if (!Array.isArray(x5c) || x5c.length === 0 || !x5c.every((c) => typeof c === 'string')) return false;
  const protectedHeader = decodeJson<{ alg?: unknown; cty?: unknown }>(header);
  const algorithm = typeof protectedHeader?.alg === 'string' ? JWS_ALGORITHMS[protectedHeader.alg] : undefined;
  if (!algorithm || protectedHeader?.cty !== NOTATION_PAYLOAD_CONTENT_TYPE) return false;
  const target = decodeJson<{ targetArtifact?: { digest?: unknown; mediaType?: unknown; size?: unknown } }>(
    payload,
  )?.targetArtifact;
  if (target?.digest !== subject.digest || target.mediaType !== subject.mediaType || target.size !== subject.size) {
    return false;
  }
  let chain: X509Certificate[];
  try {
    chain = x5c.map((der) => new X509Certificate(Buffer.from(der, 'base64')));
  } catch {
    return false;
  }
  if (!chainTrusted(chain, store, now)) return false;
  const leafKey = chain[0].publicKey;
  const key = algorithm.pss
    ? { key: leafKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: algorithm.saltLength }
    : { key: leafKey, dsaEncoding: 'ieee-p1363' as const };
  if (algorithm.pss !== (leafKey.asymmetricKeyType === 'rsa')) return false;
  return safeVerify(
    algorithm.hash,
    Buffer.from(`${header}.${payload}`, 'ascii'),
    key,
    Buffer.from(signature, 'base64url'),
  );
}
