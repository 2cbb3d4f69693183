import { afterAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONTRACTS_DIR, DIGITALOCEAN_OPERATIONS, openApiSubset, resolvePointer, syncContracts } from '../scripts/contracts.js';

type Json = Record<string, unknown>;

function refsOf(node: unknown): string[] {
  if (Array.isArray(node)) return node.flatMap(refsOf);
  if (!node || typeof node !== 'object') return [];
  return Object.entries(node).flatMap(([key, value]) => (key === '$ref' && typeof value === 'string' ? [value] : refsOf(value)));
}

/** A description shaped like DigitalOcean's: operations reuse parts of other operations by `$ref`. */
const description = {
  openapi: '3.0.0',
  info: { title: 'Example', version: '2.0' },
  tags: [{ name: 'Things' }, { name: 'Other' }],
  security: [{ bearer_auth: [] }],
  paths: {
    '/v2/things': {
      get: {
        tags: ['Things'],
        parameters: [{ $ref: '#/paths/~1v2~1other/get/parameters/1' }],
        responses: { '200': { content: { 'application/json': { schema: { $ref: '#/paths/~1v2~1other/post/requestBody/content/application~1json/schema/properties/thing' } } } }, '401': { $ref: '#/components/responses/unauthorized' } },
      },
      delete: { tags: ['Other'], responses: { '204': { description: 'gone' } } },
    },
    '/v2/other': {
      get: { tags: ['Other'], parameters: [{ name: 'unused', in: 'query' }, { name: 'per_page', in: 'query', schema: { type: 'integer', maximum: 200 } }] },
      post: {
        requestBody: {
          content: {
            'application/json': {
              schema: {
                properties: {
                  thing: { type: 'object', properties: { $ref: '#/paths/~1v2~1other/post/requestBody/content/application~1json/schema/properties/child/properties' } },
                  child: { type: 'object', properties: { parent: { $ref: '#/paths/~1v2~1other/post/requestBody/content/application~1json/schema/properties/thing' } } },
                },
              },
            },
          },
        },
      },
    },
  },
  components: { responses: { unauthorized: { description: 'no' }, unused: { description: 'never reached' } }, securitySchemes: { bearer_auth: { type: 'http', scheme: 'bearer' }, other: { type: 'http' } } },
};

describe('openApiSubset', () => {
  const subset = openApiSubset(description, ['GET /v2/things']);

  it('keeps exactly the operations named, with the tags and security scheme they use', () => {
    expect(Object.keys(subset.paths as Json)).toEqual(['/v2/things']);
    expect(Object.keys((subset.paths as Record<string, Json>)['/v2/things'] as Json)).toEqual(['get']);
    expect(subset.tags).toEqual([{ name: 'Things' }]);
    expect((subset.components as Record<string, Json>).securitySchemes).toEqual({ bearer_auth: { type: 'http', scheme: 'bearer' } });
    expect((subset.components as Record<string, Json>).responses).toEqual({ unauthorized: { description: 'no' } });
  });

  it('moves what its $refs reach in other paths to components, rewriting every $ref so it resolves to the same content', () => {
    const refs = refsOf(subset);
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) {
      expect(ref).not.toMatch(/^#\/paths\/~1v2~1other/);
      expect(resolvePointer(subset, ref)).toBeDefined();
    }
    const parameter = resolvePointer(subset, refs[0] as string);
    expect(parameter).toEqual({ name: 'per_page', in: 'query', schema: { type: 'integer', maximum: 200 } });
    expect(Object.keys((subset.components as Record<string, Json>).parameters as Json)).toEqual(['v2_other.get.parameters.1']);
    // A `properties` map moves with the schema that holds it; the cycle (child -> thing -> child) ends.
    const schema = '#/paths/~1v2~1other/post/requestBody/content/application~1json/schema';
    expect((subset['x-subset'] as Json).moved).toEqual({
      '#/components/parameters/v2_other.get.parameters.1': '#/paths/~1v2~1other/get/parameters/1',
      '#/components/schemas/v2_other.post.requestBody.content.application_json.schema.properties.child': `${schema}/properties/child`,
      '#/components/schemas/v2_other.post.requestBody.content.application_json.schema.properties.thing': `${schema}/properties/thing`,
    });
    const schemas = (subset.components as Record<string, Json>).schemas as Record<string, Json>;
    expect(schemas['v2_other.post.requestBody.content.application_json.schema.properties.thing']).toEqual({
      type: 'object',
      properties: { $ref: '#/components/schemas/v2_other.post.requestBody.content.application_json.schema.properties.child/properties' },
    });
  });

  it('refuses an operation the description does not have', () => {
    expect(() => openApiSubset(description, ['PUT /v2/things'])).toThrow('the description has no operation PUT /v2/things');
  });
});

describe('the committed DigitalOcean contract', () => {
  const dir = join(CONTRACTS_DIR, 'digitalocean');
  const spec = JSON.parse(readFileSync(join(dir, 'openapi.json'), 'utf8')) as Json;

  it('holds the operations the client and the double use, and nothing else', () => {
    const operations = Object.entries(spec.paths as Record<string, Json>).flatMap(([path, item]) => Object.keys(item).filter((k) => k !== 'parameters').map((method) => `${method.toUpperCase()} ${path}`));
    expect(operations.sort()).toEqual([...DIGITALOCEAN_OPERATIONS].sort());
  });

  it('resolves every $ref within itself, and keeps the license beside it', () => {
    for (const ref of new Set(refsOf(spec))) expect([ref, resolvePointer(spec, ref) !== undefined]).toEqual([ref, true]);
    expect(readFileSync(join(dir, 'LICENSE'), 'utf8')).toMatch(/Apache License\s+Version 2\.0/);
  });
});

describe('npm run contracts', () => {
  const work = mkdtempSync(join(tmpdir(), 'bgp-contracts-'));
  const from = join(work, 'from');
  mkdirSync(join(from, 'openapi'), { recursive: true });
  writeFileSync(join(from, 'openapi', 'digitalocean.v2.json'), JSON.stringify({
    ...description,
    paths: { '/v2/droplets': { get: {} }, '/v2/load_balancers/{lb_id}': { get: {}, put: {} } },
  }));
  writeFileSync(join(from, 'openapi', 'digitalocean.LICENSE'), 'Apache License\n');
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'scripts/contracts.ts', ...args], { encoding: 'utf8', timeout: 60_000 });

  it('writes contracts/<provider>/ from --from, and --check then finds it up to date', () => {
    const out = join(work, 'contracts');
    expect(syncContracts(from, { outDir: out }).changed).toEqual(['contracts/digitalocean/openapi.json', 'contracts/digitalocean/LICENSE', 'contracts/digitalocean/README.md']);
    expect(syncContracts(from, { outDir: out, check: true }).changed).toEqual([]);
    writeFileSync(join(out, 'digitalocean', 'LICENSE'), 'edited\n');
    writeFileSync(join(out, 'digitalocean', 'stray.json'), '{}');
    expect(syncContracts(from, { outDir: out, check: true }).changed).toEqual(['contracts/digitalocean/LICENSE', 'contracts/digitalocean/stray.json (not generated)']);
  });

  it('--check exits 1 naming the stale files when the committed copy differs, and writes nothing', () => {
    const before = readFileSync(join(CONTRACTS_DIR, 'digitalocean', 'openapi.json'), 'utf8');
    const result = run('--from', from, '--check');
    expect([result.status, result.stderr.trim()]).toEqual([1, expect.stringMatching(/^contracts: stale, contracts\/digitalocean\/openapi\.json, .* run npm run contracts -- --from /)]);
    expect(readFileSync(join(CONTRACTS_DIR, 'digitalocean', 'openapi.json'), 'utf8')).toBe(before);
  });

  it('needs --from, naming it in one line', () => {
    const missing = run('--check');
    expect([missing.status, missing.stderr.trim()]).toEqual([2, 'contracts: --from <dir> is required: the directory that holds the full API descriptions to copy from']);
    const empty = run('--from', work);
    expect([empty.status, empty.stderr.trim()]).toEqual([2, expect.stringMatching(/^contracts: --from .* has no openapi\/digitalocean\.v2\.json: name the directory/)]);
  });
});
