// First: bundled dependencies read CommonJS globals while they load.
import './esm-globals.js';
import { Cancellation } from './cancellation.js';
import { run } from './run/run.js';

const cancellation = Cancellation.listen();
await run({ cancellation });
// A phase left after its wind-down may still hold connections or timers: a cancelled run ends now.
if (cancellation.requested) process.exit();
