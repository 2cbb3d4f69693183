import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS: its default export arrives wrapped under ESM.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule) as unknown as (ajv: Ajv) => Ajv;

type Json = Record<string, unknown>;

interface Parameter {
  name: string;
  in: 'query' | 'path' | 'header' | 'cookie';
  required?: boolean;
  schema?: Json;
}

export interface ContractRequest {
  method: string;
  /** Path without the API's base, e.g. `/v2/droplets`. */
  path: string;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  body?: unknown;
}

/**
 * Checks requests against an OpenAPI 3 description (the service's own contract): the operation
 * exists, required parameters are present and valid, no unknown query parameter is sent, the
 * bearer token is there when the operation is secured, and the JSON body matches the schema.
 * Test doubles answer a violation with the error the real service gives and record it, so a
 * request the real API would refuse fails the test.
 */
export class OpenApiContract {
  private readonly ajv: Ajv;
  private readonly routes: { template: string; pattern: RegExp; params: string[] }[];
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(private readonly spec: Json) {
    this.ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false, discriminator: false });
    addFormats(this.ajv);
    this.ajv.addSchema(spec, 'openapi');
    // Literal paths before templated ones: /v2/droplets/actions before /v2/droplets/{droplet_id}.
    this.routes = Object.keys(spec.paths as Json)
      .map((template) => ({
        template,
        params: [...template.matchAll(/\{([^}]+)\}/g)].map((m) => m[1] as string),
        pattern: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{[^}]+\\?\}/g, '([^/]+)')}$`),
      }))
      .sort((a, b) => a.params.length - b.params.length);
  }

  /** Every way the request breaks the contract; empty when it conforms. */
  check(request: ContractRequest): string[] {
    const method = request.method.toLowerCase();
    const route = this.routes.find((r) => r.pattern.test(request.path));
    if (!route) return [`${request.method} ${request.path}: no such path in the API description`];
    const pathItem = (this.spec.paths as Json)[route.template] as Json;
    const operation = pathItem[method] as Json | undefined;
    const where = `${request.method} ${route.template}`;
    if (!operation) return [`${where}: method not allowed`];

    const problems: string[] = [];
    const pathValues = route.pattern.exec(request.path)?.slice(1) ?? [];
    const parameters = [...((pathItem.parameters as Json[]) ?? []), ...((operation.parameters as Json[]) ?? [])].map(
      (p) => this.deref(p) as unknown as Parameter,
    );
    for (const parameter of parameters) {
      let value: string | undefined;
      if (parameter.in === 'path') value = decodeURIComponent(pathValues[route.params.indexOf(parameter.name)] ?? '');
      else if (parameter.in === 'query') value = request.query.get(parameter.name) ?? undefined;
      else if (parameter.in === 'header') value = headerOf(request.headers, parameter.name);
      else continue;
      if (value === undefined) {
        if (parameter.required) problems.push(`${where}: missing required ${parameter.in} parameter ${parameter.name}`);
        continue;
      }
      if (parameter.schema) {
        const error = this.validate(parameter.schema, coerce(value, this.deref(parameter.schema)));
        if (error) problems.push(`${where}: ${parameter.in} parameter ${parameter.name}=${value} ${error}`);
      }
    }
    const known = new Set(parameters.filter((p) => p.in === 'query').map((p) => p.name));
    for (const name of new Set(request.query.keys())) {
      if (!known.has(name)) problems.push(`${where}: unknown query parameter ${name}`);
    }

    const security = (operation.security ?? this.spec.security) as Json[] | undefined;
    if (security?.length && !security.some((s) => Object.keys(s).length === 0)) {
      const auth = headerOf(request.headers, 'authorization');
      if (!auth || !/^(Bearer|token) \S+$/.test(auth)) problems.push(`${where}: missing or malformed Authorization header`);
    }

    const requestBody = operation.requestBody ? this.deref(operation.requestBody as Json) : undefined;
    if (requestBody) {
      const schema = ((requestBody.content as Json | undefined)?.['application/json'] as Json | undefined)?.schema as Json | undefined;
      if (request.body === undefined) {
        if (requestBody.required) problems.push(`${where}: missing required JSON body`);
      } else if (schema) {
        const error = this.validate(schema, request.body);
        if (error) problems.push(`${where}: body ${error}`);
      }
    } else if (request.body !== undefined && method !== 'get') {
      problems.push(`${where}: takes no body`);
    }
    return problems;
  }

  private deref(node: Json): Json {
    let current = node;
    for (let depth = 0; typeof current.$ref === 'string' && depth < 20; depth++) {
      current = this.pointer(current.$ref as string);
    }
    return current;
  }

  private pointer(ref: string): Json {
    let node: unknown = this.spec;
    for (const raw of ref.replace(/^#\//, '').split('/')) {
      const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
      node = (node as Json)[key];
    }
    return node as Json;
  }

  /** Validates with the schema in place, so its internal `$ref`s resolve within the description. */
  private validate(schema: Json, value: unknown): string | undefined {
    const key = JSON.stringify(schema);
    let validator = this.validators.get(key);
    if (!validator) {
      validator = this.ajv.compile({ $id: `s${this.validators.size}`, ...rebase(schema) });
      this.validators.set(key, validator);
    }
    if (validator(value)) return undefined;
    return (validator.errors ?? [])
      .slice(0, 3)
      .map((e) => (e.instancePath ? `${e.instancePath} ${e.message}` : e.message))
      .join('; ');
  }
}

/** Local `#/...` refs in a sub-schema point into the whole description, added to ajv as `openapi`. */
function rebase(node: unknown): Json {
  return JSON.parse(JSON.stringify(node), (key, value: unknown) =>
    key === '$ref' && typeof value === 'string' && value.startsWith('#') ? `openapi${value}` : value,
  ) as Json;
}

function headerOf(headers: ContractRequest['headers'], name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** Query and path values are strings on the wire; the schema's type says what they mean. */
function coerce(value: string, schema: Json): unknown {
  switch (schema.type) {
    case 'integer':
    case 'number':
      return value.trim() !== '' && Number.isFinite(Number(value)) ? Number(value) : value;
    case 'boolean':
      return value === 'true' ? true : value === 'false' ? false : value;
    default:
      return value;
  }
}
