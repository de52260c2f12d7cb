import { execFile } from 'node:child_process';
import { X509Certificate, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** A certificate authority made for a test: its certificate signs the server certificates issued with it. */
export interface TestCa {
  /** PEM certificate, the file clients trust (`ca.crt` in a certs.d directory). */
  certificatePath: string;
  keyPath: string;
  pem: string;
}

/** A server certificate issued by a TestCa. */
export interface TestServerCertificate {
  /** The server's certificate alone. */
  certificatePath: string;
  /** The server's certificate followed by the CA's, as https.certificate is usually given. */
  chainPath: string;
  /** Unencrypted PEM private key (RSA 2048, so the ECDHE-RSA suites apply). */
  keyPath: string;
  /** SHA-256 fingerprint as Node's getPeerCertificate() and X509Certificate report it (`AB:CD:…`). */
  fingerprint256: string;
  pem: string;
}

export interface ServerCertificateOptions {
  /** Base name of the files (default `server`). */
  name?: string;
  commonName?: string;
  /** Host names and IP addresses the certificate is valid for (default localhost and 127.0.0.1). */
  hosts?: string[];
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await execFileAsync('openssl', args, { cwd });
  } catch (error) {
    const failure = error as Error & { stderr?: string };
    throw new Error(`openssl ${args[0]} failed: ${failure.stderr?.trim() || failure.message}`, { cause: error });
  }
}

/** A new CA (EC P-256 key, valid two days) in `dir`, with OpenSSL. */
export async function createTestCa(dir: string, commonName = 'Wharf test CA'): Promise<TestCa> {
  await mkdir(dir, { recursive: true });
  const certificatePath = join(dir, 'ca.crt');
  const keyPath = join(dir, 'ca.key');
  await openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      keyPath,
      '-out',
      certificatePath,
      '-days',
      '2',
      '-subj',
      `/CN=${commonName}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  return { certificatePath, keyPath, pem: await readFile(certificatePath, 'utf8') };
}

/** A server certificate signed by `ca`, valid for `hosts` (subjectAltName), written to `dir`. */
export async function issueTestCertificate(
  ca: TestCa,
  dir: string,
  options: ServerCertificateOptions = {},
): Promise<TestServerCertificate> {
  await mkdir(dir, { recursive: true });
  const name = options.name ?? 'server';
  const hosts = options.hosts ?? ['localhost', '127.0.0.1'];
  const keyPath = join(dir, `${name}.key`);
  const csrPath = join(dir, `${name}.csr`);
  const extPath = join(dir, `${name}.ext`);
  const certificatePath = join(dir, `${name}.crt`);
  const chainPath = join(dir, `${name}.chain.crt`);
  // Random, so certificates issued one after the other by the same CA are told apart.
  const serialNumber = randomBytes(8).toString('hex');
  const altNames = hosts.map((host) => (/^[\d.]+$|:/.test(host) ? `IP:${host}` : `DNS:${host}`)).join(',');
  await writeFile(
    extPath,
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      `subjectAltName=${altNames}`,
      '',
    ].join('\n'),
  );
  await openssl(
    [
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      keyPath,
      '-out',
      csrPath,
      '-subj',
      `/CN=${options.commonName ?? hosts[0] ?? name}`,
    ],
    dir,
  );
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      csrPath,
      '-CA',
      ca.certificatePath,
      '-CAkey',
      ca.keyPath,
      '-set_serial',
      `0x${serialNumber}`,
      '-days',
      '2',
      '-extfile',
      extPath,
      '-out',
      certificatePath,
    ],
    dir,
  );
  const pem = await readFile(certificatePath, 'utf8');
  await writeFile(chainPath, `${pem}${ca.pem}`);
  return { certificatePath, chainPath, keyPath, fingerprint256: new X509Certificate(pem).fingerprint256, pem };
}
