import { readFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import openapiTS, { COMMENT_HEADER, astToString } from 'openapi-typescript';
import { format, resolveConfig } from 'prettier';

const SCHEMA_FILE = fileURLToPath(new URL('./schema.ts', import.meta.url));
const DOCUMENT_FILE = fileURLToPath(new URL('../../../apps/core/openapi.json', import.meta.url));

/**
 * What `pnpm --filter @wharf/api-client generate` writes: openapi-typescript's output, formatted by prettier. A
 * field with a default stays optional (`--default-non-nullable=false`): the named request schemas hold the
 * defaults the server fills in, so a client may leave those fields out.
 */
async function generateSchemaSource(): Promise<string> {
  const ast = await openapiTS(pathToFileURL(DOCUMENT_FILE), { silent: true, defaultNonNullable: false });
  const source = `${COMMENT_HEADER}${astToString(ast)}`;
  const options = (await resolveConfig(SCHEMA_FILE)) ?? {};
  return format(source, { ...options, filepath: SCHEMA_FILE });
}

describe('the generated API types', () => {
  it('match apps/core/openapi.json', async () => {
    const [fresh, checkedIn] = await Promise.all([generateSchemaSource(), readFile(SCHEMA_FILE, 'utf8')]);
    if (fresh !== checkedIn) {
      throw new Error(
        'packages/api-client/src/schema.ts is out of date with apps/core/openapi.json: run ' +
          'pnpm --filter @wharf/api-client generate',
      );
    }
    expect(fresh).toContain("'/api/v2.0/ping'");
  }, 60_000);
});
