import { afterAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AWS_OPERATIONS, CONTRACTS_DIR, DIGITALOCEAN_OPERATIONS, openApiSubset, resolvePointer, smithySubset, syncContracts } from '../scripts/contracts.js';

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
        responses: {
          '200': {
            content: { 'application/json': { schema: { $ref: '#/paths/~1v2~1other/post/requestBody/content/application~1json/schema/properties/thing' } } },
          },
          '401': { $ref: '#/components/responses/unauthorized' },
        },
      },
      delete: { tags: ['Other'], responses: { '204': { description: 'gone' } } },
    },
    '/v2/other': {
      get: {
        tags: ['Other'],
        parameters: [
          { name: 'unused', in: 'query' },
          { name: 'per_page', in: 'query', schema: { type: 'integer', maximum: 200 } },
        ],
      },
      post: {
        requestBody: {
          content: {
            'application/json': {
              schema: {
                properties: {
                  thing: {
                    type: 'object',
                    properties: { $ref: '#/paths/~1v2~1other/post/requestBody/content/application~1json/schema/properties/child/properties' },
                  },
                  child: {
                    type: 'object',
                    properties: { parent: { $ref: '#/paths/~1v2~1other/post/requestBody/content/application~1json/schema/properties/thing' } },
                  },
                },
              },
            },
          },
        },
      },
    },
  },
  components: {
    responses: { unauthorized: { description: 'no' }, unused: { description: 'never reached' } },
    securitySchemes: { bearer_auth: { type: 'http', scheme: 'bearer' }, other: { type: 'http' } },
  },
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
    const operations = Object.entries(spec.paths as Record<string, Json>).flatMap(([path, item]) =>
      Object.keys(item)
        .filter((k) => k !== 'parameters')
        .map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(operations.sort()).toEqual([...DIGITALOCEAN_OPERATIONS].sort());
  });

  it('resolves every $ref within itself, and keeps the license beside it', () => {
    for (const ref of new Set(refsOf(spec))) expect([ref, resolvePointer(spec, ref) !== undefined]).toEqual([ref, true]);
    expect(readFileSync(join(dir, 'LICENSE'), 'utf8')).toMatch(/Apache License\s+Version 2\.0/);
  });
});

/** A Smithy model shaped like AWS's: operations reach shapes through input, errors, members and list members. */
const smithyModel = {
  smithy: '2.0',
  shapes: {
    'com.example#Svc': {
      type: 'service',
      version: '2020-01-01',
      operations: [{ target: 'com.example#Get' }, { target: 'com.example#Other' }],
      traits: { 'aws.protocols#awsQuery': {}, 'smithy.rules#endpointRuleSet': { big: true } },
    },
    'com.example#Get': {
      type: 'operation',
      input: { target: 'com.example#GetInput' },
      output: { target: 'com.example#GetOutput' },
      errors: [{ target: 'com.example#Missing' }],
    },
    'com.example#GetInput': {
      type: 'structure',
      members: {
        Names: { target: 'com.example#Names', traits: { 'smithy.api#required': {}, 'smithy.api#documentation': 'prose' } },
        Flag: { target: 'smithy.api#Boolean' },
      },
    },
    'com.example#Names': { type: 'list', member: { target: 'com.example#Name' }, traits: { 'smithy.api#length': { max: 20 } } },
    'com.example#Name': { type: 'string', traits: { 'smithy.api#length': { min: 1, max: 32 } } },
    'com.example#GetOutput': { type: 'structure', members: { Tags: { target: 'com.example#TagMap' } } },
    'com.example#TagMap': { type: 'map', key: { target: 'com.example#Name' }, value: { target: 'com.example#Value' } },
    'com.example#Value': { type: 'string' },
    'com.example#Missing': {
      type: 'structure',
      members: {},
      traits: { 'smithy.api#error': 'client', 'aws.protocols#awsQueryError': { code: 'Missing', httpResponseCode: 400 } },
    },
    'com.example#Other': { type: 'operation', input: { target: 'com.example#OtherInput' } },
    'com.example#OtherInput': { type: 'structure', members: {} },
  },
};

describe('smithySubset', () => {
  const subset = smithySubset(smithyModel, ['Get']);
  const shapes = subset.shapes as Record<string, Json>;

  it('keeps the operations named and every shape they reach, with the service listing only them', () => {
    expect(Object.keys(shapes).sort()).toEqual([
      'com.example#Get',
      'com.example#GetInput',
      'com.example#GetOutput',
      'com.example#Missing',
      'com.example#Name',
      'com.example#Names',
      'com.example#Svc',
      'com.example#TagMap',
      'com.example#Value',
    ]);
    expect(shapes['com.example#Svc']).toEqual({
      type: 'service',
      version: '2020-01-01',
      operations: [{ target: 'com.example#Get' }],
      traits: { 'aws.protocols#awsQuery': {} },
    });
  });

  it('keeps the traits a request must satisfy and drops the prose', () => {
    expect(shapes['com.example#GetInput']).toEqual({
      type: 'structure',
      members: { Names: { target: 'com.example#Names', traits: { 'smithy.api#required': {} } }, Flag: { target: 'smithy.api#Boolean' } },
    });
    expect(shapes['com.example#Missing']?.traits).toEqual(smithyModel.shapes['com.example#Missing'].traits);
  });

  it('refuses an operation the model does not have', () => {
    expect(() => smithySubset(smithyModel, ['Put'])).toThrow('the model has no operation Put');
  });
});

describe('the committed AWS contracts', () => {
  const dir = join(CONTRACTS_DIR, 'aws');

  it('hold each service the provider calls with exactly its operations, every target resolving, and the license and notice beside them', () => {
    const files = {
      ...Object.fromEntries(Object.values(AWS_OPERATIONS).map(({ model, operations }) => [model.split('/').at(-1), operations])),
      'ssm-2014-11-06.json': ['CancelCommand', 'DescribeInstanceInformation', 'GetCommandInvocation', 'ListCommandInvocations', 'SendCommand'],
    };
    for (const [file, operations] of Object.entries(files)) {
      const shapes = (JSON.parse(readFileSync(join(dir, file as string), 'utf8')) as Json).shapes as Record<string, Json>;
      const service = Object.values(shapes).find((s) => s.type === 'service') as Json;
      const names = (service.operations as Json[]).map((o) => (o.target as string).split('#')[1]);
      expect([file, names.sort()]).toEqual([file, [...(operations as string[])].sort()]);
      const targets = JSON.stringify(shapes).match(/"target":"[^"]+"/g) ?? [];
      for (const target of new Set(targets.map((t) => t.slice(10, -1))))
        expect([target, target.startsWith('smithy.api#') || target in shapes]).toEqual([target, true]);
    }
    expect(readFileSync(join(dir, 'LICENSE'), 'utf8')).toMatch(/Apache License\s+Version 2\.0/);
    expect(readFileSync(join(dir, 'NOTICE'), 'utf8')).toMatch(/Amazon\.com/);
  });
});

describe('npm run contracts', () => {
  const work = mkdtempSync(join(tmpdir(), 'bgp-contracts-'));
  const from = join(work, 'from');
  mkdirSync(join(from, 'openapi'), { recursive: true });
  writeFileSync(
    join(from, 'openapi', 'digitalocean.v2.json'),
    JSON.stringify({
      ...description,
      paths: { '/v2/droplets': { get: {} }, '/v2/load_balancers/{lb_id}': { get: {}, put: {} } },
    }),
  );
  writeFileSync(join(from, 'openapi', 'digitalocean.LICENSE'), 'Apache License\n');
  mkdirSync(join(from, 'aws-models'));
  for (const { model, operations } of Object.values(AWS_OPERATIONS)) {
    const shapes = Object.fromEntries(operations.map((name) => [`com.example#${name}`, { type: 'operation' }]));
    writeFileSync(join(from, model), JSON.stringify({ smithy: '2.0', shapes: { 'com.example#Svc': { type: 'service', version: '1' }, ...shapes } }));
  }
  writeFileSync(join(from, 'aws-models', 'LICENSE'), 'Apache License\n');
  writeFileSync(join(from, 'aws-models', 'NOTICE'), 'Notice\n');
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'scripts/contracts.ts', ...args], { encoding: 'utf8', timeout: 60_000 });

  it('writes contracts/<provider>/ from --from, and --check then finds it up to date', () => {
    const out = join(work, 'contracts');
    expect(syncContracts(from, { outDir: out }).changed).toEqual([
      'contracts/digitalocean/openapi.json',
      'contracts/digitalocean/LICENSE',
      'contracts/digitalocean/README.md',
      ...Object.values(AWS_OPERATIONS).map(({ model }) => `contracts/aws/${model.split('/').at(-1)}`),
      'contracts/aws/ssm-2014-11-06.json',
      'contracts/aws/LICENSE',
      'contracts/aws/NOTICE',
      'contracts/aws/README.md',
    ]);
    expect(syncContracts(from, { outDir: out, check: true }).changed).toEqual([]);
    writeFileSync(join(out, 'digitalocean', 'LICENSE'), 'edited\n');
    writeFileSync(join(out, 'digitalocean', 'stray.json'), '{}');
    expect(syncContracts(from, { outDir: out, check: true }).changed).toEqual([
      'contracts/digitalocean/LICENSE',
      'contracts/digitalocean/stray.json (not generated)',
    ]);
  });

  it('--check exits 1 naming the stale files when the committed copy differs, and writes nothing', () => {
    const before = readFileSync(join(CONTRACTS_DIR, 'digitalocean', 'openapi.json'), 'utf8');
    const result = run('--from', from, '--check');
    expect([result.status, result.stderr.trim()]).toEqual([
      1,
      expect.stringMatching(/^contracts: stale, contracts\/digitalocean\/openapi\.json, .* run npm run contracts -- --from /),
    ]);
    expect(readFileSync(join(CONTRACTS_DIR, 'digitalocean', 'openapi.json'), 'utf8')).toBe(before);
  });

  it('needs --from, naming it in one line', () => {
    const missing = run('--check');
    expect([missing.status, missing.stderr.trim()]).toEqual([
      2,
      'contracts: --from <dir> is required: the directory that holds the full API descriptions to copy from',
    ]);
    const empty = run('--from', work);
    expect([empty.status, empty.stderr.trim()]).toEqual([
      2,
      expect.stringMatching(/^contracts: --from .* has no openapi\/digitalocean\.v2\.json: name the directory/),
    ]);
  });
});
