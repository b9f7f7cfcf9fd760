import preact from '@preact/preset-vite';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));
const server = process.env.IEXPRESSIONNET_URL ?? 'http://127.0.0.1:3000';

// Built by the server's build step into clients/dashboard/dist, which the gateway serves at `/`.
// `vite --config clients/dashboard/vite.config.ts` runs a dev server that proxies /ws and /api to a running gateway.
export default defineConfig({
  root,
  base: './',
  plugins: [preact()],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true, chunkSizeWarningLimit: 400 },
  server: {
    fs: { allow: [fileURLToPath(new URL('../..', import.meta.url))] },
    proxy: { '/api': server, '/ws': { target: server.replace(/^http/, 'ws'), ws: true } },
  },
});
