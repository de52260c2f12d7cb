import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { type SecureContextOptions, type Server as TlsServer, createSecureContext } from 'node:tls';
import { type HttpsConfig } from '@wharf/config';

/**
 * TLS 1.2 suites of `strong_ssl_ciphers`: ECDHE key exchange (forward secrecy) with an AEAD cipher, as Harbor's
 * strong list; CBC and static-RSA suites are left out. Every TLS 1.3 suite already qualifies, and all of them stay.
 */
export const STRONG_TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
];
const TLS13_CIPHERS = ['TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256', 'TLS_AES_128_GCM_SHA256'];

/** Sent with every HTTPS answer: browsers then refuse plain HTTP to this host (and its subdomains) for a year. */
export const HSTS_HEADER_VALUE = 'max-age=31536000; includeSubDomains';

/** A certificate chain and key read from harbor.yml's https section, checked, ready for a TLS server. */
export interface TlsMaterial {
  /** For tls.createServer() and server.setSecureContext(): the pair, TLS 1.2 at least, the cipher policy. */
  options: SecureContextOptions;
  /** The server's own certificate, the first of the chain. */
  certificate: X509Certificate;
  /** The CA certificate (PEM) offered to clients to trust: https.ca_certificate, else the chain's last. */
  caCertificatePem: string;
  /** What is wrong with the certificate without making it unusable: expired, or not naming the host. */
  warnings: string[];
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----\r?\n[\s\S]+?\r?\n-----END CERTIFICATE-----/g;

async function readSetting(key: string, file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new Error(`${key}: cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
}

function certificatesOf(key: string, file: string, pem: string): { pem: string; certificate: X509Certificate }[] {
  const blocks = pem.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw new Error(`${key}: ${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  return blocks.map((block, index) => {
    try {
      return { pem: `${block}\n`, certificate: new X509Certificate(block) };
    } catch (error) {
      throw new Error(`${key}: certificate ${index + 1} of ${file} cannot be read: ${(error as Error).message}`, {
        cause: error,
      });
    }
  });
}

function subjectOf(certificate: X509Certificate): string {
  return certificate.subject.replace(/\n/g, ', ') || certificate.serialNumber;
}

function validityWarnings(certificate: X509Certificate, host: string, now: Date): string[] {
  const warnings: string[] = [];
  if (new Date(certificate.validTo) < now) {
    warnings.push(`https.certificate: the certificate (${subjectOf(certificate)}) expired on ${certificate.validTo}`);
  } else if (new Date(certificate.validFrom) > now) {
    warnings.push(
      `https.certificate: the certificate (${subjectOf(certificate)}) is valid only from ${certificate.validFrom}`,
    );
  }
  const names = isIP(host) === 0 ? certificate.checkHost(host) : certificate.checkIP(host);
  if (names === undefined) {
    warnings.push(
      `https.certificate: the certificate (${subjectOf(certificate)}) is not valid for ${host}, the host clients ` +
        'reach Wharf by (hostname, or external_url): they will refuse it',
    );
  }
  return warnings;
}

/**
 * Reads and checks the certificate chain, its key and the CA certificate. Every failure names the harbor.yml key
 * whose file is at fault: a file that cannot be read, holds no certificate, a key that is encrypted or not the
 * certificate's.
 */
export async function loadTlsMaterial(https: HttpsConfig, host: string): Promise<TlsMaterial> {
  const certificatePem = await readSetting('https.certificate', https.certificateFile);
  const chain = certificatesOf('https.certificate', https.certificateFile, certificatePem);
  const keyPem = await readSetting('https.private_key', https.privateKeyFile);
  let key;
  try {
    key = createPrivateKey({ key: keyPem, format: 'pem' });
  } catch (error) {
    throw new Error(
      `https.private_key: ${https.privateKeyFile} is not an unencrypted PEM private key: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const [leaf] = chain;
  if (!leaf.certificate.checkPrivateKey(key)) {
    throw new Error(
      `https.private_key: ${https.privateKeyFile} is not the key of the certificate in ${https.certificateFile} ` +
        `(${subjectOf(leaf.certificate)})`,
    );
  }
  let caCertificatePem = chain[chain.length - 1].pem;
  if (https.caCertificateFile !== undefined) {
    const caPem = await readSetting('https.ca_certificate', https.caCertificateFile);
    caCertificatePem = certificatesOf('https.ca_certificate', https.caCertificateFile, caPem)
      .map((entry) => entry.pem)
      .join('');
  }
  const options: SecureContextOptions = {
    cert: certificatePem,
    key: keyPem,
    minVersion: 'TLSv1.2',
    ...(https.strongCiphers ? { ciphers: [...TLS13_CIPHERS, ...STRONG_TLS12_CIPHERS].join(':') } : {}),
    honorCipherOrder: true,
  };
  try {
    // What OpenSSL itself refuses (a key too weak for its security level, …) is found now, not at the first handshake.
    createSecureContext(options);
  } catch (error) {
    throw new Error(
      `https: the certificate ${https.certificateFile} and key ${https.privateKeyFile} cannot be used: ` +
        (error as Error).message,
      { cause: error },
    );
  }
  return {
    options,
    certificate: leaf.certificate,
    caCertificatePem,
    warnings: validityWarnings(leaf.certificate, host, new Date()),
  };
}

/** A summary of a certificate for the log: its subject, its end of validity and its fingerprint. */
export function certificateSummary(certificate: X509Certificate): string {
  return `${subjectOf(certificate)}, valid until ${certificate.validTo}, SHA-256 ${certificate.fingerprint256}`;
}

/**
 * The certificate core's HTTPS server presents. A reload reads the files again and swaps the server's secure context
 * in place: open connections and the listening socket stay, new handshakes get the new pair. A pair that fails its
 * checks changes nothing.
 */
export class ServedCertificate {
  private server: TlsServer | undefined;
  private reloading: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly https: HttpsConfig,
    private readonly host: string,
    private material: TlsMaterial,
  ) {}

  /** `host`: the name or address clients reach Wharf by, which the certificate should be valid for. */
  static async load(https: HttpsConfig, host: string): Promise<ServedCertificate> {
    return new ServedCertificate(https, host, await loadTlsMaterial(https, host));
  }

  get current(): TlsMaterial {
    return this.material;
  }

  /** The server whose secure context reloads replace. */
  attach(server: TlsServer): void {
    this.server = server;
  }

  /** Reads the files again and serves them; rejects, still serving the previous pair, when they fail the checks. */
  reload(): Promise<TlsMaterial> {
    const next = this.reloading.then(async () => {
      const material = await loadTlsMaterial(this.https, this.host);
      this.server?.setSecureContext(material.options);
      this.material = material;
      return material;
    });
    this.reloading = next.catch(() => undefined);
    return next;
  }
}
