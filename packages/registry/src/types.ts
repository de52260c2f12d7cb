import { type ParsedManifest } from '@wharf/oci';
import { type FastifyRequest } from 'fastify';

export type RepositoryAction = 'pull' | 'push' | 'delete';

/** One resource and the actions a request needs on it, in the Docker token scope model. */
export type AccessRequest =
  | { type: 'repository'; name: string; actions: RepositoryAction[] }
  | { type: 'registry'; name: 'catalog'; actions: ['*'] };

export type AccessDecision =
  | {
      allowed: true;
      actor?: string;
      /** The verified claims of the bearer token that allowed it, for a host that checks more of them. */
      claims?: Readonly<Record<string, unknown>>;
    }
  | {
      allowed: false;
      /** false: no or bad credentials (401); true: valid credentials without the needed rights. */
      authenticated: boolean;
      /** The WWW-Authenticate challenge to send with a 401. */
      challenge?: string;
      message?: string;
    };

/**
 * Decides whether a request may do what it asks. The engine knows nothing of users or projects: whoever mounts
 * it (the standalone registry, or core) supplies this.
 */
export interface AccessController {
  authorize(request: FastifyRequest, access: AccessRequest[]): Promise<AccessDecision>;
}

export interface ManifestPutContext {
  repository: string;
  digest: string;
  tag?: string;
  size: number;
  manifest: ParsedManifest;
  actor?: string;
}

export interface BlobCommitContext {
  repository: string;
  digest: string;
  size: number;
  actor?: string;
}

/**
 * A change to an existing tag: `overwrite` points it at another manifest (a manifest PUT by that tag, an artifact
 * copied onto it), `delete` removes it (a tag delete, or the delete of the manifest it points at).
 */
export interface TagChangeContext {
  repository: string;
  tag: string;
  change: 'overwrite' | 'delete';
  /** The manifest the tag points at now. */
  digest: string;
  /** The manifest an overwrite points it at (the same digest when a push repeats itself). */
  newDigest?: string;
  actor?: string;
}

/** The delete of a manifest, with the tags that go with it (each also passed to beforeTagChange first). */
export interface ManifestDeleteContext {
  repository: string;
  digest: string;
  tags: string[];
  actor?: string;
}

/**
 * A manifest about to be served (GET or HEAD, by tag or by digest, the children of an index included, each fetched by
 * its own digest). A policy that refuses it (a vulnerability or signature gate) throws, and nothing is sent.
 */
export interface ManifestGetContext {
  repository: string;
  /** The tag or digest the request named. */
  reference: string;
  digest: string;
  mediaType: string;
  method: 'GET' | 'HEAD';
  actor?: string;
  /** The verified claims of the bearer token that allowed the request, when it came with one. */
  claims?: Readonly<Record<string, unknown>>;
  /** The client's User-Agent header, for policies that let a signing tool read what it signs. */
  userAgent?: string;
}

/**
 * Policy checks run in order before a change commits, on /v2 and on every write core's API makes through the
 * writer alike; a check refuses by throwing an OciError (for example DENIED with the reason, and the status to answer
 * with). Nothing is stored when a check refuses.
 */
export interface RegistryPolicy {
  name: string;
  beforeBlobCommit?(context: BlobCommitContext): Promise<void>;
  beforeManifestPut?(context: ManifestPutContext): Promise<void>;
  beforeTagChange?(context: TagChangeContext): Promise<void>;
  beforeManifestDelete?(context: ManifestDeleteContext): Promise<void>;
  /** Runs before a manifest is served; unlike the others it guards a read, and changes nothing. */
  beforeManifestGet?(context: ManifestGetContext): Promise<void>;
}
