import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { ACTION_YML, README, renderActionYml, renderReadme } from '../scripts/generate-docs.js';
import { INPUTS } from '../src/inputs.js';

describe('docs generated from src/inputs.ts', () => {
  it('action.yml is up to date (run npm run docs)', () => {
    expect(readFileSync(ACTION_YML, 'utf8')).toBe(renderActionYml());
  });

  it("the README's input reference is up to date (run npm run docs)", () => {
    const readme = readFileSync(README, 'utf8');
    expect(readme).toBe(renderReadme(readme));
  });

  it('action.yml runs the ESM bundle on node24 and declares every input in kebab-case', () => {
    const yml = readFileSync(ACTION_YML, 'utf8');
    expect(yml).toContain("  using: 'node24'\n  main: 'dist/index.js'");
    for (const name of Object.keys(INPUTS)) {
      expect(name).toMatch(/^[a-z]+(-[a-z0-9]+)*$/);
      expect(yml).toContain(`\n  ${name}:\n    description: `);
    }
  });

  it('puts the install-and-demo command and the test command at the top of the README', () => {
    const top = readFileSync(README, 'utf8').split('\n').slice(0, 15).join('\n');
    expect(top).toContain('npm ci && npm run demo');
    expect(top).toContain('npm ci && npm test');
  });
});
