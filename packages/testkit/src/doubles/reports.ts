/*
 * The documents the Trivy test double writes, in Trivy's own schemas: the JSON vulnerability report
 * (SchemaVersion 2), CycloneDX 1.5 and SPDX 2.3 SBOMs; and the reading of such SBOMs back into packages for
 * `trivy sbom`.
 */
import { randomUUID } from 'node:crypto';
import type { OsInfo, PulledImage } from './image-source.js';
import { DoubleError } from './image-source.js';
import { type DoubleDb, type InstalledPackage, type TrivySeverity, matchAdvisories } from './vuln-db.js';
import { parseDpkgVersion } from './versions.js';

export const DOUBLE_TRIVY_VERSION = '0.56.2';

const DATA_SOURCES = {
  debian: {
    ID: 'debian',
    Name: 'Debian Security Tracker',
    URL: 'https://salsa.debian.org/security-tracker-team/security-tracker',
  },
  alpine: { ID: 'alpine', Name: 'Alpine Secdb', URL: 'https://secdb.alpinelinux.org/' },
} as const;

/** What a scan found in an artifact: its OS and packages, however they were read (image or SBOM). */
export interface ScanSubject {
  artifactName: string;
  artifactType: 'container_image' | 'cyclonedx' | 'spdx';
  os?: OsInfo;
  packages: InstalledPackage[];
  image?: PulledImage & { repoTags: string[]; repoDigests: string[] };
}

export interface VulnerabilityOptions {
  severities: TrivySeverity[];
  ignoreUnfixed: boolean;
  scanVulnerabilities: boolean;
  osPackages: boolean;
}

function purlVersion(version: string): string {
  return encodeURIComponent(version);
}

/** The package URL Trivy gives an OS package (epoch as a qualifier, qualifiers sorted). */
export function packageUrl(os: OsInfo, pkg: InstalledPackage): string {
  if (os.family === 'debian') {
    const { epoch } = parseDpkgVersion(pkg.version);
    const version = pkg.version.replace(/^\d+:/, '');
    const qualifiers = [`arch=${pkg.arch}`, `distro=debian-${os.name}`, ...(epoch ? [`epoch=${epoch}`] : [])];
    return `pkg:deb/debian/${pkg.name}@${purlVersion(version)}?${qualifiers.join('&')}`;
  }
  return `pkg:apk/alpine/${pkg.name}@${purlVersion(pkg.version)}?arch=${pkg.arch}&distro=${os.name}`;
}

function versionFromPurl(purl: string): { name: string; version: string; arch: string; distro?: string } {
  const match = /^pkg:(deb|apk)\/[^/]+\/([^@]+)@([^?#]+)(?:\?([^#]*))?/.exec(purl);
  if (!match) throw new DoubleError(`unsupported package URL: ${purl}`);
  const qualifiers = new URLSearchParams(match[4] ?? '');
  const epoch = qualifiers.get('epoch');
  const version = decodeURIComponent(match[3]);
  return {
    name: decodeURIComponent(match[2]),
    version: epoch && epoch !== '0' ? `${epoch}:${version}` : version,
    arch: qualifiers.get('arch') ?? '',
    distro: qualifiers.get('distro') ?? undefined,
  };
}

function targetOf(subject: ScanSubject): string {
  return subject.os ? `${subject.artifactName} (${subject.os.family} ${subject.os.name})` : subject.artifactName;
}

function metadataOf(subject: ScanSubject): Record<string, unknown> {
  const image = subject.image;
  return {
    ...(subject.os ? { OS: { Family: subject.os.family, Name: subject.os.name } } : {}),
    ...(image
      ? {
          ImageID: image.imageId,
          DiffIDs: image.diffIds,
          RepoTags: image.repoTags,
          RepoDigests: image.repoDigests,
          ImageConfig: image.config,
        }
      : {
          ImageConfig: {
            architecture: '',
            created: '0001-01-01T00:00:00Z',
            os: '',
            rootfs: { type: '', diff_ids: null },
            config: {},
          },
        }),
  };
}

/** Trivy's JSON report (`--format json`), SchemaVersion 2. */
export function vulnerabilityReport(subject: ScanSubject, db: DoubleDb, options: VulnerabilityOptions): unknown {
  const results: unknown[] = [];
  if (subject.os && options.osPackages) {
    const os = subject.os;
    const matches = options.scanVulnerabilities
      ? matchAdvisories(db, os.family, os.name, subject.packages, { ignoreUnfixed: options.ignoreUnfixed })
      : [];
    const vulnerabilities = matches
      .filter(({ advisory }) => options.severities.includes(advisory.Severity))
      .sort(
        (a, b) =>
          a.pkg.name.localeCompare(b.pkg.name) ||
          a.pkg.version.localeCompare(b.pkg.version) ||
          a.advisory.VulnerabilityID.localeCompare(b.advisory.VulnerabilityID),
      )
      .map(({ pkg, advisory }) => ({
        VulnerabilityID: advisory.VulnerabilityID,
        PkgID: `${pkg.name}@${pkg.version}`,
        PkgName: pkg.name,
        PkgIdentifier: { PURL: packageUrl(os, pkg) },
        InstalledVersion: pkg.version,
        ...(advisory.FixedVersion ? { FixedVersion: advisory.FixedVersion } : {}),
        Status: advisory.FixedVersion ? 'fixed' : 'affected',
        Layer: pkg.layer ?? {},
        SeveritySource: advisory.SeveritySource,
        PrimaryURL: `https://avd.aquasec.com/nvd/${advisory.VulnerabilityID.toLowerCase()}`,
        DataSource: DATA_SOURCES[os.family],
        Title: advisory.Title,
        Description: advisory.Description,
        Severity: advisory.Severity,
        ...(advisory.CweIDs.length > 0 ? { CweIDs: advisory.CweIDs } : {}),
        VendorSeverity: advisory.VendorSeverity,
        ...(advisory.CVSS ? { CVSS: advisory.CVSS } : {}),
        References: advisory.References,
        PublishedDate: advisory.PublishedDate,
        LastModifiedDate: advisory.LastModifiedDate,
      }));
    results.push({
      Target: targetOf(subject),
      Class: 'os-pkgs',
      Type: os.family,
      ...(vulnerabilities.length > 0 ? { Vulnerabilities: vulnerabilities } : {}),
    });
  }
  return {
    SchemaVersion: 2,
    CreatedAt: new Date().toISOString(),
    ArtifactName: subject.artifactName,
    ArtifactType: subject.artifactType,
    Metadata: metadataOf(subject),
    ...(results.length > 0 ? { Results: results } : {}),
  };
}

function sourceParts(pkg: InstalledPackage, family: OsInfo['family']): Record<string, string> {
  if (family !== 'debian') return { SrcName: pkg.srcName, SrcVersion: pkg.srcVersion };
  const { epoch, upstream, revision } = parseDpkgVersion(pkg.srcVersion);
  return {
    SrcName: pkg.srcName,
    SrcVersion: upstream,
    ...(revision ? { SrcRelease: revision } : {}),
    ...(epoch ? { SrcEpoch: String(epoch) } : {}),
  };
}

function joinSource(parts: Map<string, string>): string | undefined {
  const version = parts.get('SrcVersion');
  if (!version) return undefined;
  const epoch = parts.get('SrcEpoch');
  const release = parts.get('SrcRelease');
  return `${epoch ? `${epoch}:` : ''}${version}${release ? `-${release}` : ''}`;
}

function imagePurl(subject: ScanSubject): string | undefined {
  const image = subject.image;
  if (!image) return undefined;
  const repository = subject.artifactName.replace(/[@:][^/]*$/, '');
  const name = repository.split('/').pop() ?? repository;
  return `pkg:oci/${name}@${encodeURIComponent(image.repoDigest)}?arch=${image.architecture}&repository_url=${encodeURIComponent(repository)}`;
}

/** CycloneDX 1.5 JSON as `trivy image --format cyclonedx` writes it. */
export function cycloneDx(subject: ScanSubject): unknown {
  const os = subject.os;
  const image = subject.image;
  const rootRef = imagePurl(subject) ?? randomUUID();
  const osRef = randomUUID();
  const components: unknown[] = [];
  const packageRefs: string[] = [];
  if (os) {
    components.push({
      'bom-ref': osRef,
      type: 'operating-system',
      name: os.family,
      version: os.name,
      properties: [
        { name: 'aquasecurity:trivy:Class', value: 'os-pkgs' },
        { name: 'aquasecurity:trivy:Type', value: os.family },
      ],
    });
    for (const pkg of subject.packages) {
      const purl = packageUrl(os, pkg);
      packageRefs.push(purl);
      const properties = [
        ...(pkg.layer?.DiffID ? [{ name: 'aquasecurity:trivy:LayerDiffID', value: pkg.layer.DiffID }] : []),
        ...(pkg.layer?.Digest ? [{ name: 'aquasecurity:trivy:LayerDigest', value: pkg.layer.Digest }] : []),
        { name: 'aquasecurity:trivy:PkgID', value: `${pkg.name}@${pkg.version}` },
        { name: 'aquasecurity:trivy:PkgType', value: os.family },
        ...Object.entries(sourceParts(pkg, os.family)).map(([key, value]) => ({
          name: `aquasecurity:trivy:${key}`,
          value,
        })),
      ];
      components.push({
        'bom-ref': purl,
        type: 'library',
        name: pkg.name,
        version: pkg.version,
        purl,
        properties,
      });
    }
  }
  return {
    $schema: 'http://cyclonedx.org/schema/bom-1.5.schema.json',
    bomFormat: 'CycloneDX',
    specVersion: '1.5',
    serialNumber: `urn:uuid:${randomUUID()}`,
    version: 1,
    metadata: {
      timestamp: new Date().toISOString().replace(/\.\d+Z$/, '+00:00'),
      tools: {
        components: [{ type: 'application', group: 'aquasecurity', name: 'trivy', version: DOUBLE_TRIVY_VERSION }],
      },
      component: {
        'bom-ref': rootRef,
        type: 'container',
        name: subject.artifactName,
        ...(image ? { purl: rootRef } : {}),
        properties: [
          ...(image ? image.diffIds.map((value) => ({ name: 'aquasecurity:trivy:DiffID', value })) : []),
          ...(image ? [{ name: 'aquasecurity:trivy:ImageID', value: image.imageId }] : []),
          ...(image ? image.repoDigests.map((value) => ({ name: 'aquasecurity:trivy:RepoDigest', value })) : []),
          ...(image ? image.repoTags.map((value) => ({ name: 'aquasecurity:trivy:RepoTag', value })) : []),
          { name: 'aquasecurity:trivy:SchemaVersion', value: '2' },
        ],
      },
    },
    components,
    dependencies: [
      { ref: rootRef, dependsOn: os ? [osRef] : [] },
      ...(os ? [{ ref: osRef, dependsOn: packageRefs }] : []),
      ...packageRefs.map((ref) => ({ ref, dependsOn: [] })),
    ],
    vulnerabilities: [],
  };
}

function spdxId(kind: string, value: string): string {
  return `SPDXRef-${kind}-${Buffer.from(value).toString('hex').slice(0, 16)}${randomUUID().slice(0, 8)}`;
}

/** SPDX 2.3 JSON as `trivy image --format spdx-json` writes it. */
export function spdxJson(subject: ScanSubject): unknown {
  const os = subject.os;
  const rootId = spdxId('ContainerImage', subject.artifactName);
  const osId = spdxId('OperatingSystem', os?.family ?? '');
  const packages: unknown[] = [];
  const relationships: unknown[] = [
    { spdxElementId: 'SPDXRef-DOCUMENT', relatedSpdxElement: rootId, relationshipType: 'DESCRIBES' },
  ];
  const image = subject.image;
  packages.push({
    name: subject.artifactName,
    SPDXID: rootId,
    downloadLocation: 'NONE',
    filesAnalyzed: false,
    ...(image
      ? {
          externalRefs: [
            { referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: imagePurl(subject) },
          ],
          attributionTexts: [
            `SchemaVersion: 2`,
            `ImageID: ${image.imageId}`,
            ...image.repoDigests.map((d) => `RepoDigest: ${d}`),
            ...image.diffIds.map((d) => `DiffID: ${d}`),
            ...image.repoTags.map((t) => `RepoTag: ${t}`),
          ],
        }
      : {}),
    primaryPackagePurpose: 'CONTAINER',
  });
  if (os) {
    packages.push({
      name: os.family,
      SPDXID: osId,
      versionInfo: os.name,
      downloadLocation: 'NONE',
      filesAnalyzed: false,
      primaryPackagePurpose: 'OPERATING-SYSTEM',
    });
    relationships.push({ spdxElementId: rootId, relatedSpdxElement: osId, relationshipType: 'CONTAINS' });
    for (const pkg of subject.packages) {
      const id = spdxId('Package', pkg.name);
      packages.push({
        name: pkg.name,
        SPDXID: id,
        versionInfo: pkg.version,
        supplier: 'NOASSERTION',
        downloadLocation: 'NONE',
        filesAnalyzed: false,
        sourceInfo: `built package from: ${pkg.srcName} ${pkg.srcVersion}`,
        externalRefs: [
          { referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: packageUrl(os, pkg) },
        ],
        attributionTexts: [
          `PkgID: ${pkg.name}@${pkg.version}`,
          ...(pkg.layer?.Digest ? [`LayerDigest: ${pkg.layer.Digest}`] : []),
          ...(pkg.layer?.DiffID ? [`LayerDiffID: ${pkg.layer.DiffID}`] : []),
        ],
        primaryPackagePurpose: 'LIBRARY',
      });
      relationships.push({ spdxElementId: osId, relatedSpdxElement: id, relationshipType: 'CONTAINS' });
    }
  }
  return {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: subject.artifactName,
    documentNamespace: `http://aquasecurity.github.io/trivy/container_image/${subject.artifactName}-${randomUUID()}`,
    creationInfo: {
      creators: ['Organization: aquasecurity', `Tool: trivy-${DOUBLE_TRIVY_VERSION}`],
      created: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    },
    packages,
    relationships,
  };
}

function familyOf(name: string | undefined): OsInfo['family'] | undefined {
  return name === 'debian' || name === 'alpine' ? name : undefined;
}

type Json = Record<string, unknown>;

function asArray(value: unknown): Json[] {
  return Array.isArray(value) ? (value.filter((v) => v && typeof v === 'object') as Json[]) : [];
}

/** Reads a CycloneDX or SPDX JSON SBOM (as Trivy writes them) back into the OS and its packages. */
export function subjectFromSbom(text: string, artifactName: string): ScanSubject {
  let doc: Json;
  try {
    doc = JSON.parse(text) as Json;
  } catch {
    throw new DoubleError('failed to detect SBOM format: not JSON');
  }
  if (doc.bomFormat === 'CycloneDX') {
    const components = asArray(doc.components);
    const osComponent = components.find((c) => c.type === 'operating-system');
    const family = familyOf(osComponent?.name as string | undefined);
    const os = family && typeof osComponent?.version === 'string' ? { family, name: osComponent.version } : undefined;
    const packages: InstalledPackage[] = [];
    for (const component of components) {
      if (component.type !== 'library' || typeof component.purl !== 'string') continue;
      if (!/^pkg:(deb|apk)\//.test(component.purl)) continue;
      const fromPurl = versionFromPurl(component.purl);
      const props = new Map<string, string>();
      for (const p of asArray(component.properties)) {
        if (typeof p.name === 'string' && typeof p.value === 'string') {
          props.set(p.name.replace(/^aquasecurity:trivy:/, ''), p.value);
        }
      }
      const srcName = props.get('SrcName') ?? fromPurl.name;
      const srcVersion = (family === 'debian' ? joinSource(props) : props.get('SrcVersion')) ?? fromPurl.version;
      const layer =
        props.get('LayerDigest') || props.get('LayerDiffID')
          ? { Digest: props.get('LayerDigest'), DiffID: props.get('LayerDiffID') }
          : undefined;
      packages.push({
        name: fromPurl.name,
        version: fromPurl.version,
        arch: fromPurl.arch,
        srcName,
        srcVersion,
        ...(layer ? { layer } : {}),
      });
    }
    return { artifactName, artifactType: 'cyclonedx', os, packages };
  }
  if (typeof doc.spdxVersion === 'string' && doc.spdxVersion.startsWith('SPDX-')) {
    const all = asArray(doc.packages);
    const osPackage = all.find((p) => p.primaryPackagePurpose === 'OPERATING-SYSTEM');
    const family = familyOf(osPackage?.name as string | undefined);
    const os =
      family && typeof osPackage?.versionInfo === 'string' ? { family, name: osPackage.versionInfo } : undefined;
    const packages: InstalledPackage[] = [];
    for (const entry of all) {
      const purl = asArray(entry.externalRefs).find((r) => r.referenceType === 'purl')?.referenceLocator;
      if (typeof purl !== 'string' || !/^pkg:(deb|apk)\//.test(purl)) continue;
      const fromPurl = versionFromPurl(purl);
      const source = /^built package from: (\S+) (\S+)$/.exec(
        typeof entry.sourceInfo === 'string' ? entry.sourceInfo : '',
      );
      const texts = (Array.isArray(entry.attributionTexts) ? entry.attributionTexts : []).filter(
        (t): t is string => typeof t === 'string',
      );
      const attr = (key: string) => texts.find((t) => t.startsWith(`${key}: `))?.slice(key.length + 2);
      const layer =
        attr('LayerDigest') || attr('LayerDiffID')
          ? { Digest: attr('LayerDigest'), DiffID: attr('LayerDiffID') }
          : undefined;
      packages.push({
        name: fromPurl.name,
        version: fromPurl.version,
        arch: fromPurl.arch,
        srcName: source?.[1] ?? fromPurl.name,
        srcVersion: source?.[2] ?? fromPurl.version,
        ...(layer ? { layer } : {}),
      });
    }
    return { artifactName, artifactType: 'spdx', os, packages };
  }
  throw new DoubleError('failed to detect SBOM format: unknown format');
}
