import { describe, expect, it } from '@jest/globals';
import { readFileSync, readdirSync } from 'node:fs';
import { ACTION_YML, EXAMPLES_DIR, README, renderActionYml, renderReadme } from '../scripts/generate-docs.js';
import { INPUTS } from '../src/inputs.js';

describe('docs generated from src/inputs.ts', () => {
  it('action.yml is up to date (run npm run docs)', () => {
    expect(readFileSync(ACTION_YML, 'utf8')).toBe(renderActionYml());
  });

  it("the README's input reference is up to date (run npm run docs)", () => {
    const readme = readFileSync(README, 'utf8');
    expect(readme).toBe(renderReadme(readme));
  });

  it("the README's usage snippets are the example workflows, each whole (run npm run docs)", () => {
    const readme = readFileSync(README, 'utf8');
    const examples = readdirSync(EXAMPLES_DIR).filter((name) => name.endsWith('.yml'));
    expect(examples.length).toBeGreaterThanOrEqual(4);
    for (const name of examples) {
      expect(readme).toContain(`\`\`\`yaml\n${readFileSync(`${EXAMPLES_DIR}${name}`, 'utf8').trimEnd()}\n\`\`\``);
    }
    // No hand-written workflow beside them: every YAML block outside the generated one is a fragment.
    const handWritten = readme.replace(/<!-- examples:start[\s\S]*<!-- examples:end -->/, '');
    expect(handWritten).not.toMatch(/```yaml\n[\s\S]*?\bjobs:/);
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
