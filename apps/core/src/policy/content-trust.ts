import {
  ACCESS_CHANGE_CHANNEL,
  type ChangeNoticeSource,
  MANIFEST_CHANGE_CHANNEL,
  NoticeCache,
  type NotificationHub,
  type NotificationListener,
  TRUSTED_KEY_CHANGE_CHANNEL,
} from '@wharf/db';
import { type DataSource } from 'typeorm';
import { AccessoryType, parseDigest } from '@wharf/oci';
import { blobDataPath } from '@wharf/registry';
import { type StorageDriver } from '@wharf/storage';
import {
  type ProjectTrustRow,
  type PulledManifest,
  type SignatureRow,
  TrustedKeyRepository,
} from '../repositories/trusted-key.repository.js';
import {
  type BlobReader,
  type TrustedKeySet,
  type TrustedKeyType,
  trustedKeySet,
  verifyCosignSignature,
  verifyNotationSignature,
} from './signature-verification.js';

/** Subscribes to the notices of changed project settings or keys (PostgreSQL LISTEN in practice). */
export type TrustChangeSource = ChangeNoticeSource;

/** A project's content trust, as the gate reads it on every pull. */
export interface ProjectTrust {
  cosign: boolean;
  notation: boolean;
  keys: TrustedKeySet;
  /** Changes whenever the project's keys of a type change: verdicts are kept per version. */
  keysVersion: Record<TrustedKeyType, string>;
}

/** Projects and verdicts kept at most; past it the oldest is dropped. */
const MAX_PROJECTS = 10_000;
const MAX_VERDICTS = 100_000;
const MAX_COVERED_REPOSITORIES = 10_000;

const SIGNATURE_KEY_TYPE: Record<string, TrustedKeyType | undefined> = {
  [AccessoryType.CosignSignature]: 'cosign',
  [AccessoryType.NotationSignature]: 'notation',
};

/** The kind of trusted key a signature accessory type verifies against; undefined for other accessories. */
export function keyTypeOfAccessory(accessoryType: string): TrustedKeyType | undefined {
  return SIGNATURE_KEY_TYPE[accessoryType];
}

function toProjectTrust(row: ProjectTrustRow): ProjectTrust {
  const version = (type: TrustedKeyType) =>
    row.keys
      .filter((k) => k.type === type)
      .map((k) => k.fingerprint)
      .join(',');
  return {
    cosign: row.cosign,
    notation: row.notation,
    keys: trustedKeySet(row.keys),
    keysVersion: { cosign: version('cosign'), notation: version('notation') },
  };
}

const NO_TRUST: ProjectTrust = {
  cosign: false,
  notation: false,
  keys: { cosign: [], notation: [] },
  keysVersion: { cosign: '', notation: '' },
};

function bounded<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  if (map.size >= max) {
    const oldest = map.keys().next();
    if (!oldest.done) map.delete(oldest.value);
  }
  map.set(key, value);
}

/**
 * Content trust as every process reads it: each project's switches and trusted keys kept until the database
 * announces a change to project settings or keys (nothing is kept while the notice channel is down), and the verdict
 * of each signature verification kept per subject, signature and key version (all content-addressed, so a verdict
 * never goes stale).
 */
export class ContentTrust {
  private readonly projects: NoticeCache<ProjectTrust>;
  private readonly verdicts = new Map<string, boolean>();
  /**
   * Manifests found signed (or accessories), by repository: the common pull of a gated project asks the database
   * nothing. Only those, so a signature pushed right after a refused pull counts at once; one deleted counts until
   * the notice of its repository's change arrives, as the registry's own manifest cache serves a deleted manifest.
   */
  private readonly covered = new Map<string, Map<string, PulledManifest>>();
  private manifestEpoch = 0;
  private manifestsLive = false;
  private readonly manifestListener?: NotificationListener;

  constructor(
    private readonly repository: TrustedKeyRepository,
    private readonly storage: StorageDriver,
    changes: readonly TrustChangeSource[],
    manifestChanges?: TrustChangeSource,
  ) {
    this.manifestListener = manifestChanges?.({
      onMessage: (name) => {
        this.manifestEpoch += 1;
        this.covered.delete(name);
      },
      onConnected: () => {
        this.forgetManifests();
        this.manifestsLive = true;
      },
      onDisconnected: () => {
        this.manifestsLive = false;
        this.forgetManifests();
      },
    });
    this.projects = new NoticeCache(changes, MAX_PROJECTS);
  }

  /** The project's content trust; none for a project that does not exist. */
  project(name: string): Promise<ProjectTrust> {
    return this.projects.get(name, async () => {
      const row = await this.repository.projectTrust(name);
      return row ? toProjectTrust(row) : NO_TRUST;
    });
  }

  /** Drops what is kept, after a change this process made, so that the next pull meets it at once. */
  forget(): void {
    this.projects.clear();
  }

  async pulledManifest(repository: string, digest: string): Promise<PulledManifest | null> {
    const kept = this.manifestsLive ? this.covered.get(repository)?.get(digest) : undefined;
    if (kept) return kept;
    const epoch = this.manifestEpoch;
    const pulled = await this.repository.pulledManifest(repository, digest);
    if (pulled && (pulled.accessory || pulled.signatures.length > 0) && this.manifestsLive) {
      if (this.manifestEpoch === epoch) {
        let ofRepository = this.covered.get(repository);
        if (!ofRepository) {
          ofRepository = new Map();
          bounded(this.covered, repository, ofRepository, MAX_COVERED_REPOSITORIES);
        }
        ofRepository.set(digest, pulled);
      }
    }
    return pulled;
  }

  private forgetManifests(): void {
    this.manifestEpoch += 1;
    this.covered.clear();
  }

  /**
   * Whether one of the signatures of `type` counts for the project: with no trusted key of that type, any (as Harbor
   * checks, existence only); otherwise one that verifies against a trusted key.
   */
  async anyCounts(
    trust: ProjectTrust,
    repository: string,
    signatures: readonly SignatureRow[],
    type: TrustedKeyType,
  ): Promise<boolean> {
    const ofType = signatures.filter((s) => keyTypeOfAccessory(s.type) === type);
    if (!this.hasKeys(trust, type)) return ofType.length > 0;
    for (const signature of ofType) {
      if (await this.verified(trust, repository, signature, type)) return true;
    }
    return false;
  }

  /**
   * The state a signature accessory shows: true or false once checked against the project's keys of its type, null
   * when the project holds none (or it is not a signature).
   */
  async accessoryState(projectName: string, repository: string, signature: SignatureRow): Promise<boolean | null> {
    const type = keyTypeOfAccessory(signature.type);
    if (!type) return null;
    const trust = await this.project(projectName);
    if (!this.hasKeys(trust, type)) return null;
    return this.verified(trust, repository, signature, type);
  }

  private hasKeys(trust: ProjectTrust, type: TrustedKeyType): boolean {
    return type === 'cosign' ? trust.keys.cosign.length > 0 : trust.keys.notation.length > 0;
  }

  private async verified(
    trust: ProjectTrust,
    repository: string,
    signature: SignatureRow,
    type: TrustedKeyType,
  ): Promise<boolean> {
    const key = `${type}|${signature.subject}|${signature.digest}|${trust.keysVersion[type]}`;
    const kept = this.verdicts.get(key);
    if (kept !== undefined) return kept;
    const verdict = await this.verify(trust, repository, signature, type);
    bounded(this.verdicts, key, verdict, MAX_VERDICTS);
    return verdict;
  }

  private async verify(
    trust: ProjectTrust,
    repository: string,
    signature: SignatureRow,
    type: TrustedKeyType,
  ): Promise<boolean> {
    const manifest = await this.repository.manifestPayload(repository, signature.digest);
    if (!manifest) return false;
    const read = this.blobReader(repository);
    if (type === 'cosign') return verifyCosignSignature(manifest, signature.subject, trust.keys.cosign, read);
    return verifyNotationSignature(
      manifest,
      { digest: signature.subject, mediaType: signature.subjectMediaType, size: signature.subjectSize },
      trust.keys.notation,
      read,
    );
  }

  private blobReader(repository: string): BlobReader {
    return async (digest) => {
      const parsed = parseDigest(digest);
      if (!parsed || !(await this.repository.blobInRepository(repository, digest))) return null;
      try {
        return await this.storage.getContent(blobDataPath(parsed));
      } catch {
        return null;
      }
    };
  }

  /** Verdicts stay: they are kept by content digests and the fingerprints of the keys they were reached with. */
  async close(): Promise<void> {
    this.forgetManifests();
    await Promise.all([this.projects.close(), this.manifestListener?.close()]);
  }
}

/**
 * Content trust for a process, following the notices of changed project settings (project metadata announces itself
 * on the access channel) and of changed trusted keys.
 */
export function openContentTrust(
  dataSource: DataSource,
  storage: StorageDriver,
  notices: NotificationHub,
): ContentTrust {
  return new ContentTrust(
    new TrustedKeyRepository(dataSource),
    storage,
    [
      (handlers) => notices.subscribe(ACCESS_CHANGE_CHANNEL, handlers),
      (handlers) => notices.subscribe(TRUSTED_KEY_CHANGE_CHANNEL, handlers),
    ],
    (handlers) => notices.subscribe(MANIFEST_CHANGE_CHANNEL, handlers),
  );
}
