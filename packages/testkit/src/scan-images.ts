import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

/**
 * Images with real package databases for scanner tests, built offline with umoci (no Docker, no network) as OCI
 * image layouts, and pushed to a registry with skopeo.
 */

const run = promisify(execFile);

export interface ScanImageLayout {
  /** The OCI layout directory; the image is tagged `ref` in it (`oci:<path>:<ref>`). */
  path: string;
  ref: string;
  /** The dpkg status or apk installed database the image holds, as written. */
  packageDatabase: string;
  /** `/etc/os-release` as written. */
  osRelease: string;
}

async function umoci(args: string[]): Promise<void> {
  try {
    await run('umoci', args, { maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const e = error as { code?: string; stderr?: string; message: string };
    if (e.code === 'ENOENT') throw new Error('umoci is not installed (apt-get install -y umoci)', { cause: error });
    throw new Error(`umoci ${args[0]} failed: ${e.stderr ?? e.message}`, { cause: error });
  }
}

async function writeTree(root: string, files: Record<string, string>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    const full = join(root, path);
    await mkdir(dirname(full), { recursive: true });
    await writeFile(full, content);
  }
}

/** A new layout at `path` with one empty image tagged `ref` (linux/amd64). */
async function newLayout(path: string, ref: string): Promise<void> {
  await umoci(['init', '--layout', path]);
  await umoci(['new', '--image', `${path}:${ref}`]);
  await umoci(['config', '--image', `${path}:${ref}`, '--architecture', 'amd64', '--os', 'linux']);
}

/** Adds a layer holding the tree `files` at the image's root. */
async function insertLayer(path: string, ref: string, files: Record<string, string>, createdBy: string): Promise<void> {
  const source = await mkdtemp(join(tmpdir(), 'wharf-rootfs-'));
  try {
    await writeTree(source, files);
    await umoci(['insert', '--image', `${path}:${ref}`, '--history.created_by', createdBy, source, '/']);
  } finally {
    await rm(source, { recursive: true, force: true });
  }
}

/** A `status.d` entry the image adds and then deletes with a whiteout: no scanner may report it. */
export const WHITED_OUT_PACKAGE = 'wharf-deleted-tar';

/**
 * A Debian image built from this machine's own `/etc/os-release`, `/etc/debian_version` and `/var/lib/dpkg/status`
 * (this machine runs Debian 12), so its packages are real ones at their real versions. Three layers: the base
 * (OS files and dpkg status), an application layer (a file, and a distroless-style `status.d` entry naming a fake
 * package built from `tar`), and a layer whose whiteout deletes that `status.d` entry again.
 */
export async function buildDebianScanImage(path: string, ref = 'latest'): Promise<ScanImageLayout> {
  const osRelease = await readFile('/etc/os-release', 'utf8');
  const debianVersion = await readFile('/etc/debian_version', 'utf8');
  const status = await readFile('/var/lib/dpkg/status', 'utf8');
  if (!/^ID=debian$/m.test(osRelease)) throw new Error('buildDebianScanImage needs a Debian host (/etc/os-release)');
  await newLayout(path, ref);
  await insertLayer(
    path,
    ref,
    { 'etc/os-release': osRelease, 'etc/debian_version': debianVersion, 'var/lib/dpkg/status': status },
    'debian base: os-release and dpkg status of the build host',
  );
  await insertLayer(
    path,
    ref,
    {
      'opt/app/hello.txt': 'hello from a Wharf scan test image\n',
      [`var/lib/dpkg/status.d/${WHITED_OUT_PACKAGE}`]: `Package: ${WHITED_OUT_PACKAGE}\nSource: tar (1.0-1)\nVersion: 1.0-1\nArchitecture: amd64\n`,
    },
    'application files',
  );
  await umoci([
    'insert',
    '--image',
    `${path}:${ref}`,
    '--history.created_by',
    'remove a package entry',
    '--whiteout',
    `/var/lib/dpkg/status.d/${WHITED_OUT_PACKAGE}`,
  ]);
  return { path, ref, packageDatabase: status, osRelease };
}

/** The apk database of the Alpine-like image: real Alpine 3.19 package names and versions. */
export const ALPINE_INSTALLED = [
  'C:Q1abcdefghijklmnopqrstuvwxyz0=\nP:musl\nV:1.2.4_git20230717-r4\nA:x86_64\nS:407784\nI:667648\nT:the musl c library (libc) implementation\nU:https://musl.libc.org/\nL:MIT\no:musl\nm:Timo Teräs <timo.teras@iki.fi>\nt:1700000000\n',
  'C:Q1bcdefghijklmnopqrstuvwxyza0=\nP:busybox\nV:1.36.1-r15\nA:x86_64\nS:510000\nI:950000\nT:Size optimized toolbox of many common UNIX utilities\nU:https://busybox.net/\nL:GPL-2.0-only\no:busybox\nm:Sören Tempel <soeren+alpine@soeren-tempel.net>\nt:1700000000\n',
  'C:Q1cdefghijklmnopqrstuvwxyzab0=\nP:musl-utils\nV:1.2.4_git20230717-r4\nA:x86_64\nS:36000\nI:100000\nT:the musl c library (libc) implementation\nU:https://musl.libc.org/\nL:MIT AND BSD-2-Clause AND GPL-2.0-or-later\no:musl\nm:Timo Teräs <timo.teras@iki.fi>\nt:1700000000\n',
].join('\n');

/** An Alpine-like image: os-release, alpine-release and an apk installed database, no binaries. */
export async function buildAlpineScanImage(path: string, ref = 'latest'): Promise<ScanImageLayout> {
  const osRelease =
    'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME="Alpine Linux v3.19"\nHOME_URL="https://alpinelinux.org/"\n';
  await newLayout(path, ref);
  await insertLayer(
    path,
    ref,
    { 'etc/os-release': osRelease, 'etc/alpine-release': '3.19.1\n', 'lib/apk/db/installed': ALPINE_INSTALLED },
    'alpine base',
  );
  return { path, ref, packageDatabase: ALPINE_INSTALLED, osRelease };
}

/**
 * Copies `oci:<layout>:<ref>` to `docker://<destination>` with skopeo (plain HTTP), with `user:password` credentials
 * when given; returns the pushed manifest's digest.
 */
export async function pushLayout(layout: ScanImageLayout, destination: string, credentials?: string): Promise<string> {
  const work = await mkdtemp(join(tmpdir(), 'wharf-push-'));
  try {
    const digestFile = join(work, 'digest');
    await run(
      'skopeo',
      [
        'copy',
        '--quiet',
        '--dest-tls-verify=false',
        ...(credentials ? ['--dest-creds', credentials] : ['--dest-no-creds']),
        '--digestfile',
        digestFile,
        `oci:${layout.path}:${layout.ref}`,
        `docker://${destination}`,
      ],
      { maxBuffer: 16 * 1024 * 1024, env: { ...process.env, REGISTRY_AUTH_FILE: join(work, 'auth.json') } },
    ).catch((error: { stderr?: string; message: string }) => {
      throw new Error(`skopeo copy to ${destination} failed: ${error.stderr ?? error.message}`);
    });
    return (await readFile(digestFile, 'utf8')).trim();
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
