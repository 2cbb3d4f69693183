import type { Color } from './colors.js';
import type { LiveTraffic } from './providers/types.js';

/** Live traffic in words, for logs, the summary and errors: `blue`, `split (blue 90%, green 10%)`. */
export function describeLive(live: LiveTraffic | undefined): string {
  if (!live) return 'unknown';
  switch (live.kind) {
    case 'color':
      return live.color;
    case 'none':
      return 'none';
    case 'weighted':
      return `split (blue ${live.weights.blue}%, green ${live.weights.green}%)`;
    case 'unknown':
      return 'unknown';
  }
}

/** The color traffic is on, when it is on exactly one. */
export function liveColor(live: LiveTraffic | undefined): Color | undefined {
  return live?.kind === 'color' ? live.color : undefined;
}
