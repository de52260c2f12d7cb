import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import {
  type Subject,
  cosignSignature,
  notationPki,
  notationSignature,
  simpleSigningPayload,
} from '../testing/signature-fixtures.js';
import {
  parseCosignKey,
  parseNotationCertificate,
  trustedKeySet,
  verifyCosignSignature,
  verifyNotationSignature,
} from './signature-verification.js';

const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const subject: Subject = {
  digest: sha256(Buffer.from('subject')),
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  size: 1234,
};

/** A blob reader over the blobs of a pushed signature, as the registry would serve them. */
const readerOf = (blobs: Buffer[]) => {
  const byDigest = new Map(blobs.map((b) => [sha256(b), b]));
  return (digest: string) => Promise.resolve(byDigest.get(digest) ?? null);
};

describe('cosign signature verification', () => {
  it('verifies an RSA (PKCS#1 v1.5) signature as well as ECDSA, and only for the subject it names', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const signature = cosignSignature(subject, rsa.privateKey);
    const keys = trustedKeySet([
      { type: 'cosign', pem: parseCosignKey(rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString()).pem },
    ]);
    const read = readerOf(signature.blobs);
    expect(await verifyCosignSignature(signature.manifest, subject.digest, keys.cosign, read)).toBe(true);
    expect(await verifyCosignSignature(signature.manifest, sha256(Buffer.from('other')), keys.cosign, read)).toBe(
      false,
    );
    // Bytes served for a layer that do not hash to its digest are not read, even when they carry a good signature.
    const other = simpleSigningPayload(subject.digest, 'elsewhere');
    const manifest = JSON.parse(signature.manifest.toString()) as { layers: { annotations: Record<string, string> }[] };
    manifest.layers[0].annotations['dev.cosignproject.cosign/signature'] = sign(
      'sha256',
      other,
      rsa.privateKey,
    ).toString('base64');
    const [config, payload] = signature.blobs;
    const swapped = (digest: string) => Promise.resolve(digest === sha256(payload) ? other : config);
    expect(
      await verifyCosignSignature(Buffer.from(JSON.stringify(manifest)), subject.digest, keys.cosign, swapped),
    ).toBe(false);
  });

  it('gives the same fingerprint to the same key however its PEM is wrapped', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const rewrapped = pem.replace(/\n/g, '\r\n');
    expect(parseCosignKey(rewrapped).fingerprint).toBe(parseCosignKey(pem).fingerprint);
    expect(parseCosignKey(pem).pem).toBe(pem);
  });

  it('ignores an annotation signature that is not over the payload bytes', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const signature = cosignSignature(subject, privateKey);
    const manifest = JSON.parse(signature.manifest.toString()) as { layers: { annotations: Record<string, string> }[] };
    manifest.layers[0].annotations['dev.cosignproject.cosign/signature'] = sign(
      'sha256',
      Buffer.from('else'),
      privateKey,
    ).toString('base64');
    const keys = trustedKeySet([{ type: 'cosign', pem: publicKey.export({ type: 'spki', format: 'pem' }).toString() }]);
    expect(
      await verifyCosignSignature(
        Buffer.from(JSON.stringify(manifest)),
        subject.digest,
        keys.cosign,
        readerOf(signature.blobs),
      ),
    ).toBe(false);
  });
});

describe('notation signature verification', () => {
  const pki = notationPki('unit');
  const store = trustedKeySet([{ type: 'notation', pem: parseNotationCertificate(pki.caPem).pem }]).notation;

  it('verifies an ES256 envelope whose chain reaches the store, and only for the exact subject', async () => {
    const signature = notationSignature(subject, pki);
    const read = readerOf(signature.blobs);
    expect(await verifyNotationSignature(signature.manifest, subject, store, read)).toBe(true);
    expect(await verifyNotationSignature(signature.manifest, { ...subject, size: subject.size + 1 }, store, read)).toBe(
      false,
    );
    expect(
      await verifyNotationSignature(
        signature.manifest,
        { ...subject, mediaType: 'application/vnd.oci.image.index.v1+json' },
        store,
        read,
      ),
    ).toBe(false);
  });

  it('verifies an RSASSA-PSS (PS256) envelope from an RSA leaf', async () => {
    const rsaPki = notationPki('unit-rsa', { rsaLeaf: true });
    const signature = notationSignature(subject, rsaPki);
    const rsaStore = trustedKeySet([{ type: 'notation', pem: rsaPki.caPem }]).notation;
    expect(await verifyNotationSignature(signature.manifest, subject, rsaStore, readerOf(signature.blobs))).toBe(true);
    expect(await verifyNotationSignature(signature.manifest, subject, store, readerOf(signature.blobs))).toBe(false);
  });

  it('refuses a chain outside its validity, as at a time after the leaf expired', async () => {
    const signature = notationSignature(subject, pki);
    const later = new Date(Date.now() + 3 * 24 * 3600 * 1000);
    expect(await verifyNotationSignature(signature.manifest, subject, store, readerOf(signature.blobs), later)).toBe(
      false,
    );
  });

  it('refuses a certificate store entry given as a private key or two certificates', () => {
    expect(() => parseNotationCertificate(`${pki.caPem}${pki.leafPem}`)).toThrow(/exactly one/);
    expect(() => parseNotationCertificate(pki.leafKey.export({ type: 'pkcs8', format: 'pem' }).toString())).toThrow(
      /private key/,
    );
  });
});
