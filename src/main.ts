// First: bundled dependencies read CommonJS globals while they load.
import './esm-globals.js';
import { run } from './run.js';

await run();
