import { pullCommand } from '../../api/system.js';
import { type Artifact } from '../../api/types.js';
import { CopyButton } from '../../components/CopyButton.js';
import { shortDigest } from '../../lib/format.js';

export type ArtifactTag = NonNullable<Artifact['tags']>[number];

/** A readable artifact type: "Image", "Image index (3)" for an index of three, "Chart". */
export function artifactTypeLabel(artifact: Pick<Artifact, 'type' | 'references'>): string {
  const type = artifact.type ? artifact.type.charAt(0) + artifact.type.slice(1).toLowerCase() : 'Unknown';
  const references = artifact.references?.length ?? 0;
  if (references > 0) return `${type} index (${references})`;
  return type;
}

/** `os/architecture/variant` of a reference of an index, or the empty string when it has no platform. */
export function platformLabel(platform: { os?: string; architecture?: string; variant?: string } | undefined): string {
  if (!platform) return '';
  return [platform.os, platform.architecture, platform.variant].filter(Boolean).join('/');
}

/** The pull command of a tag or digest with a copy button. */
export function PullCommand({
  host,
  repository,
  reference,
  compact,
}: {
  host: string;
  repository: string;
  reference: string;
  /** Only the tag or short digest beside the button, for tables. */
  compact?: boolean;
}) {
  const command = pullCommand(host, repository, reference);
  const isDigest = reference.includes(':');
  const what = isDigest ? `digest ${reference}` : `tag ${reference}`;
  return (
    <span className="pull-command">
      <code title={compact ? command : undefined}>
        {compact ? (isDigest ? `@${shortDigest(reference)}` : `:${reference}`) : command}
      </code>
      <CopyButton text={command} ariaLabel={`Copy pull command for ${what}`} />
    </span>
  );
}
