import { defineConfig } from "vitest/config";

// The desktop shell embeds `dist/` (see ../tauri.conf.json, build.frontendDist).
// Everything must load from 'self': the app's CSP forbids inline scripts and styles.
export default defineConfig({
  clearScreen: false,
  server: { port: 5173, strictPort: true },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    // Never inline assets as data: URLs into scripts or styles.
    assetsInlineLimit: 0,
  },
  test: {
    environment: "node",
    include: ["src/**/*.test.ts"],
  },
});
