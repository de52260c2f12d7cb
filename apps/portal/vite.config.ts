import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vitest/config';

// The portal talks to Wharf core on the same origin; in development Vite forwards those paths to a running core.
const core = process.env['WHARF_CORE_URL'] ?? 'http://127.0.0.1:8080';
// One pattern, so that `/c` does not also catch portal paths that merely start with a "c".
const proxy = { '^/(api|c|service|v2)(/|$)': { target: core, changeOrigin: false } };

export default defineConfig({
  plugins: [react()],
  resolve: {
    // The workspace package's sources, so the portal never depends on a stale build of the client.
    alias: {
      '@wharf/api-client': fileURLToPath(new URL('../../packages/api-client/src/index.ts', import.meta.url)),
    },
  },
  server: {
    proxy,
  },
  preview: {
    proxy,
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // No source maps in what core serves: the sources are public anyway, but 2 MiB per build is not worth shipping.
    sourcemap: false,
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.{ts,tsx}'],
    setupFiles: ['src/test/setup.ts'],
    restoreMocks: true,
  },
});
