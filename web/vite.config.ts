import { defineConfig } from 'vite';

// The API serves web/dist at `/` (same origin), so asset URLs are absolute from the root.
// `npx vite` in web/ proxies the API to a platform started with `npm start`.
export default defineConfig({
  base: '/',
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', sourcemap: true },
  server: { proxy: { '/api': 'http://127.0.0.1:3000', '/git': 'http://127.0.0.1:3000' } },
});
