import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import {
  type LayerFacts,
  type LayerRef,
  analyzeLayer,
  applyLayers,
  parseDpkgStatus,
  parseImageReference,
  pullImage,
} from './image-source.js';

/** A ustar archive of the given entries (`type` 0 file, 5 directory). */
function tar(entries: Array<{ name: string; content?: string; type?: '0' | '5' }>): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const data = Buffer.from(entry.content ?? '');
    const header = Buffer.alloc(512);
    header.write(entry.name, 0, 100);
    header.write('0000644\0', 100);
    header.write('0000000\0', 108);
    header.write('0000000\0', 116);
    header.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124);
    header.write('00000000000\0', 136);
    header.write('        ', 148);
    header.write(entry.type ?? '0', 156);
    header.write('ustar\0', 257);
    header.write('00', 263);
    let sum = 0;
    for (const byte of header) sum += byte;
    header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    blocks.push(header, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

const STATUS = [
  'Package: libfoo1\nStatus: install ok installed\nArchitecture: amd64\nSource: foo (1.2-3)\nVersion: 1.2-3+b1\n',
  'Package: bar\nStatus: install ok installed\nArchitecture: all\nVersion: 2:0.9-1\n',
  'Package: removed\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 1.0-1\n',
].join('\n');

describe('Trivy test double: reading image layers', () => {
  it('parses references as trivy is given them', () => {
    expect(parseImageReference('127.0.0.1:5000/lib/app@sha256:' + 'a'.repeat(64))).toEqual({
      host: '127.0.0.1:5000',
      repository: 'lib/app',
      digest: 'sha256:' + 'a'.repeat(64),
    });
    expect(parseImageReference('wharf.example/lib/app:1.0')).toEqual({
      host: 'wharf.example',
      repository: 'lib/app',
      tag: '1.0',
    });
    expect(parseImageReference('wharf.example/app')).toEqual({
      host: 'wharf.example',
      repository: 'app',
      tag: 'latest',
    });
    expect(() => parseImageReference('app')).toThrow(/could not parse reference/);
  });

  it('keeps installed packages of the dpkg status, with their source', () => {
    expect(parseDpkgStatus(STATUS)).toEqual([
      { name: 'libfoo1', version: '1.2-3+b1', arch: 'amd64', srcName: 'foo', srcVersion: '1.2-3' },
      { name: 'bar', version: '2:0.9-1', arch: 'all', srcName: 'bar', srcVersion: '2:0.9-1' },
    ]);
  });

  it('reads tracked files, whiteouts and opaque directories from gzip or plain layers', () => {
    const layer = tar([
      { name: './etc/', type: '5' },
      { name: './etc/os-release', content: 'ID=debian\n' },
      { name: 'usr/bin/tool', content: 'binary' },
      { name: 'var/lib/dpkg/.wh.status' },
      { name: 'var/lib/dpkg/status.d/.wh..wh..opq' },
    ]);
    const expected = {
      files: { 'etc/os-release': 'ID=debian\n' },
      whiteouts: ['var/lib/dpkg/status'],
      opaqueDirs: ['var/lib/dpkg/status.d'],
    };
    expect(analyzeLayer(layer)).toEqual(expected);
    expect(analyzeLayer(gzipSync(layer))).toEqual(expected);
  });

  it('applies layers in order and attributes each package to the layer that brought its version', () => {
    const layers: Array<{ ref: LayerRef; facts: LayerFacts }> = [
      {
        ref: { digest: 'sha256:l1', diffId: 'sha256:d1' },
        facts: {
          files: {
            'etc/os-release': 'ID=debian\nVERSION_ID="12"\n',
            'etc/debian_version': '12.7\n',
            'var/lib/dpkg/status': STATUS,
          },
          whiteouts: [],
          opaqueDirs: [],
        },
      },
      {
        ref: { digest: 'sha256:l2', diffId: 'sha256:d2' },
        facts: {
          files: { 'var/lib/dpkg/status.d/extra': 'Package: extra\nVersion: 1.0\nArchitecture: amd64\n' },
          whiteouts: [],
          opaqueDirs: [],
        },
      },
      {
        ref: { digest: 'sha256:l3', diffId: 'sha256:d3' },
        facts: {
          // libfoo1 upgraded, bar removed, the status.d directory emptied.
          files: {
            'var/lib/dpkg/status':
              'Package: libfoo1\nStatus: install ok installed\nSource: foo (1.2-4)\nVersion: 1.2-4\nArchitecture: amd64\n',
          },
          whiteouts: [],
          opaqueDirs: ['var/lib/dpkg/status.d'],
        },
      },
    ];
    const twoLayers = applyLayers(layers.slice(0, 2));
    expect(twoLayers.os).toEqual({ family: 'debian', name: '12.7' });
    expect(twoLayers.packages.map((p) => [p.name, p.layer?.DiffID])).toEqual([
      ['libfoo1', 'sha256:d1'],
      ['bar', 'sha256:d1'],
      ['extra', 'sha256:d2'],
    ]);
    const all = applyLayers(layers);
    expect(all.packages).toEqual([
      {
        name: 'libfoo1',
        version: '1.2-4',
        arch: 'amd64',
        srcName: 'foo',
        srcVersion: '1.2-4',
        layer: { Digest: 'sha256:l3', DiffID: 'sha256:d3' },
      },
    ]);
    const whitedOut = applyLayers([
      ...layers.slice(0, 2),
      {
        ref: { digest: 'sha256:l4', diffId: 'sha256:d4' },
        facts: { files: {}, whiteouts: ['var/lib/dpkg/status.d/extra', 'etc'], opaqueDirs: [] },
      },
    ]);
    expect(whitedOut.packages.map((p) => p.name)).toEqual(['libfoo1', 'bar']);
    expect(whitedOut.os).toBeUndefined();
  });
});

describe('Trivy test double: pulling', () => {
  const blobs = new Map<string, { type: string; body: Buffer }>();
  let server: Server;
  let host: string;
  const seen: Array<{ url: string; authorization?: string }> = [];

  function put(type: string, body: Buffer | string): { mediaType: string; digest: string; size: number } {
    const bytes = Buffer.from(body);
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    blobs.set(digest, { type, body: bytes });
    return { mediaType: type, digest, size: bytes.length };
  }

  function image(osRelease: string): { mediaType: string; digest: string; size: number } {
    const layerTar = tar([
      { name: 'etc/alpine-release', content: osRelease },
      { name: 'lib/apk/db/installed', content: 'P:musl\nV:1.2.4-r2\nA:x86_64\no:musl\n' },
    ]);
    const layer = put('application/vnd.oci.image.layer.v1.tar+gzip', gzipSync(layerTar));
    const diffId = `sha256:${createHash('sha256').update(layerTar).digest('hex')}`;
    const config = put(
      'application/vnd.oci.image.config.v1+json',
      JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [diffId] } }),
    );
    return put(
      'application/vnd.oci.image.manifest.v1+json',
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config,
        layers: [layer],
      }),
    );
  }

  let indexDigest: string;

  beforeAll(async () => {
    const arm = image('3.18.0\n');
    const amd = image('3.19.1\n');
    indexDigest = put(
      'application/vnd.oci.image.index.v1+json',
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [
          { ...arm, platform: { os: 'linux', architecture: 'arm64' } },
          { ...amd, platform: { os: 'linux', architecture: 'amd64' } },
        ],
      }),
    ).digest;
    const basic = `Basic ${Buffer.from('scanner:s3cret').toString('base64')}`;
    server = createServer((req, res) => {
      seen.push({ url: req.url ?? '', authorization: req.headers.authorization });
      if (req.headers.authorization !== basic) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="test"' }).end();
        return;
      }
      const match = /^\/v2\/lib\/app\/(manifests|blobs)\/(.+)$/.exec(req.url ?? '');
      const blob = match && blobs.get(match[2] === 'latest' ? indexDigest : match[2]);
      if (!blob) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': blob.type }).end(blob.body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('follows an index to linux/amd64 and answers a Basic challenge with the credentials', async () => {
    const pulled = await pullImage(
      parseImageReference(`${host}/lib/app:latest`),
      { username: 'scanner', password: 's3cret' },
      { insecure: true },
    );
    expect(pulled.repoDigest).toBe(indexDigest);
    expect(pulled.os).toEqual({ family: 'alpine', name: '3.19.1' });
    expect(pulled.packages).toMatchObject([{ name: 'musl', version: '1.2.4-r2', srcName: 'musl' }]);
    expect(seen[0].authorization).toBeUndefined();
    expect(seen.slice(1).every((request) => request.authorization?.startsWith('Basic '))).toBe(true);
  });

  it('fails without credentials', async () => {
    await expect(pullImage(parseImageReference(`${host}/lib/app:latest`), {}, { insecure: true })).rejects.toThrow(
      /UNAUTHORIZED/,
    );
  });
});
