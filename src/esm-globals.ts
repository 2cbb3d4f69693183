/**
 * CommonJS globals for bundled dependencies. The action runs as one ES module (the ncc bundle),
 * where `__dirname` does not exist, but ssh2's WebAssembly loader (emscripten, for poly1305) reads
 * it as soon as it is loaded, and the bundle would die with "__dirname is not defined" before any
 * phase ran (vercel/ncc#749). main.ts imports this module first, so the globals exist before any
 * dependency runs; in the bundle they name the bundle's own directory, as they would in CommonJS.
 */
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const globals = globalThis as { __dirname?: string; __filename?: string };
globals.__filename ??= fileURLToPath(import.meta.url);
globals.__dirname ??= dirname(globals.__filename);
