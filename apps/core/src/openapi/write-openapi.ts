import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { format, resolveConfig } from 'prettier';
import { CONTROLLERS } from '../controllers/index.js';
import { generateOpenApiDocument, openApiProblems } from './openapi.generator.js';

/** apps/core/openapi.json, from src/openapi or dist/openapi alike. */
export const OPENAPI_FILE = fileURLToPath(new URL('../../openapi.json', import.meta.url));

/** The document as checked in: formatted as the repository formats JSON, so regenerating changes no bytes. */
export async function renderOpenApiFile(): Promise<string> {
  const document = generateOpenApiDocument(CONTROLLERS);
  const problems = openApiProblems(document);
  if (problems.length > 0) throw new Error(`the OpenAPI document has problems:\n- ${problems.join('\n- ')}`);
  const options = (await resolveConfig(OPENAPI_FILE)) ?? {};
  return format(JSON.stringify(document), { ...options, filepath: OPENAPI_FILE });
}

async function main(): Promise<void> {
  await writeFile(OPENAPI_FILE, await renderOpenApiFile());
  process.stdout.write(`wrote ${OPENAPI_FILE}\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  });
}
