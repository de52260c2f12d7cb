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
 * Policy checks run in order before a change commits; a check refuses by throwing an OciError (for example
 * DENIED with the reason). Nothing is stored when a check refuses.
 */
export interface RegistryPolicy {
  name: string;
  beforeBlobCommit?(context: BlobCommitContext): Promise<void>;
  beforeManifestPut?(context: ManifestPutContext): Promise<void>;
}
