import { OciError, OciErrorCode } from '@wharf/oci';
import { type ManifestGetContext, type RegistryPolicy } from '@wharf/registry';
import { projectOfRepository } from '../registry/project-quota.policy.js';
import { isScannerToken, tokenGrantsPush } from '../registry/scanner-token.js';
import { type ContentTrust } from './content-trust.js';

/** Harbor's words for a pull that content trust refuses, by the kind of signature missing. */
export const NOT_SIGNED_BY_COSIGN = 'The image is not signed by cosign.';
export const NOT_SIGNED_BY_NOTATION = 'The image is not signed by notation.';

/**
 * Harbor lets cosign and notation read the manifest they are about to sign (they fetch it first), when the token may
 * push to the repository: otherwise nothing could ever be signed in a project that demands signatures.
 */
function signingToolMayRead(context: ManifestGetContext): boolean {
  const agent = context.userAgent ?? '';
  return (
    (agent.includes('cosign') || agent.includes('notation')) && tokenGrantsPush(context.claims, context.repository)
  );
}

const refused = (message: string) => new OciError(OciErrorCode.PROJECTPOLICYVIOLATION, message, undefined, 412);

/**
 * Harbor's content trust: in a project with `enable_content_trust_cosign` (or `enable_content_trust`, notation), a
 * manifest without a cosign (notation) signature is not served, with Harbor's 412 PROJECTPOLICYVIOLATION; cosign is
 * checked first, as Harbor does. A signature covers its subject and, for an index, the manifests the index lists in
 * the same repository (cosign and notation sign an index without descending into it, and a client pulls the children
 * by digest). Signatures and other accessories are always served: clients fetch them to verify. The scanner identity
 * passes, and so does cosign or notation (by User-Agent, as Harbor tells them) with a token that may push. Where the project trusts keys of a type, only a signature of that type that verifies counts.
 *
 * A project with neither switch costs a lookup in a kept map and nothing more.
 */
export class ContentTrustPolicy implements RegistryPolicy {
  readonly name = 'content-trust';

  constructor(private readonly trust: ContentTrust) {}

  async beforeManifestGet(context: ManifestGetContext): Promise<void> {
    const project = projectOfRepository(context.repository);
    if (project === undefined) return;
    const trust = await this.trust.project(project);
    if (!trust.cosign && !trust.notation) return;
    if (isScannerToken(context.claims) || signingToolMayRead(context)) return;
    const pulled = await this.trust.pulledManifest(context.repository, context.digest);
    if (!pulled || pulled.accessory) return;
    if (trust.cosign && !(await this.trust.anyCounts(trust, context.repository, pulled.signatures, 'cosign'))) {
      throw refused(NOT_SIGNED_BY_COSIGN);
    }
    if (trust.notation && !(await this.trust.anyCounts(trust, context.repository, pulled.signatures, 'notation'))) {
      throw refused(NOT_SIGNED_BY_NOTATION);
    }
  }
}
