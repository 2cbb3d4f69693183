import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { AwsAccount, REGION } from './aws-account.js';

/**
 * The AWS account model (aws-account.ts) on the wire: one HTTP server on loopback that the real SDK
 * clients reach through `AWS_ENDPOINT_URL`, speaking each service's protocol as the installed SDK
 * sends it:
 *
 * - Elastic Load Balancing v2 and Auto Scaling: awsQuery (form-encoded `Action=...`, XML answers);
 * - SSM: awsJson1_1 (`X-Amz-Target: AmazonSSM.SendCommand`);
 * - CloudWatch: awsJson1_0 in query-compatible mode (`X-Amz-Target: GraniteServiceVersion20100801.DescribeAlarms`,
 *   `x-amzn-query-mode: true`), which @aws-sdk/client-cloudwatch sends today; its model (and older SDKs)
 *   still name awsQuery, which the double also takes.
 *
 * A request goes to the service its SigV4 credential scope names (or its X-Amz-Target), is decoded
 * with that service's model (contracts/aws/, generated from AWS's own Smithy models) and checked
 * against it: required members, lengths, ranges, patterns, enums, types, unknown members. A request
 * that breaks the model is refused as AWS refuses it (400 ValidationError, or ValidationException for
 * the JSON services) and recorded in `violations`: tests expect none. Throttling and AccessDenied are
 * switched on per operation through the account (`throttle`, `deny`).
 */

type Json = Record<string, unknown>;
type Shape = Json & {
  type: string;
  traits?: Json;
  members?: Record<string, { target: string; traits?: Json }>;
  member?: { target: string };
  key?: { target: string };
  value?: { target: string };
};

const CONTRACTS = fileURLToPath(new URL('../contracts/aws/', import.meta.url));

type Protocol = 'awsQuery' | 'awsJson1_0' | 'awsJson1_1';

interface Service {
  /** The SigV4 signing name in the credential scope, and the IAM prefix of its actions. */
  signingName: string;
  iamPrefix: string;
  protocol: Protocol;
  /** The X-Amz-Target prefix of the JSON protocols. */
  target?: string;
  namespace: string;
  xmlNamespace?: string;
  shapes: Record<string, Shape>;
}

function loadService(file: string, signingName: string, iamPrefix: string): Service {
  const shapes = (JSON.parse(readFileSync(`${CONTRACTS}${file}`, 'utf8')) as Json).shapes as Record<string, Shape>;
  const [serviceId, service] = Object.entries(shapes).find(([, s]) => s.type === 'service') as [string, Shape];
  const traits = service.traits ?? {};
  const namespace = serviceId.split('#')[0] as string;
  const protocol: Protocol = 'aws.protocols#awsJson1_1' in traits ? 'awsJson1_1' : 'aws.protocols#awsJson1_0' in traits ? 'awsJson1_0' : 'awsQuery';
  return {
    signingName,
    iamPrefix,
    protocol,
    target: serviceId.split('#')[1],
    namespace,
    xmlNamespace: traits['smithy.api#xmlNamespace'] ? ((traits['smithy.api#xmlNamespace'] as Json).uri as string) : undefined,
    shapes,
  };
}

const SERVICES: Service[] = [
  loadService('elastic-load-balancing-v2-2015-12-01.json', 'elasticloadbalancing', 'elasticloadbalancing'),
  loadService('auto-scaling-2011-01-01.json', 'autoscaling', 'autoscaling'),
  loadService('cloudwatch-2010-08-01.json', 'monitoring', 'cloudwatch'),
  loadService('ssm-2014-11-06.json', 'ssm', 'ssm'),
];

export interface Violation {
  /** `elasticloadbalancing:ModifyListener`, or the service and what was wrong with the request itself. */
  action: string;
  message: string;
}

interface WireError {
  status: number;
  code: string;
  message: string;
  /** Sender (client) or Receiver (server), as awsQuery error documents say. */
  fault: 'Sender' | 'Receiver';
}

class Refused extends Error {
  constructor(readonly wire: WireError) {
    super(wire.message);
  }
}

const validationError = (service: Service, messages: string[]): WireError => ({
  status: 400,
  code: service.protocol === 'awsJson1_1' ? 'ValidationException' : 'ValidationError',
  message: `${messages.length} validation error${messages.length === 1 ? '' : 's'} detected: ${messages.join('; ')}`,
  fault: 'Sender',
});

// --- decoding requests ---------------------------------------------------------------------------

const lowerFirst = (name: string) => name.charAt(0).toLowerCase() + name.slice(1);

/** awsQuery: `Names.member.1=a&Actions.member.1.ForwardConfig.TargetGroups.member.1.Weight=10` into the input, by the model. */
function decodeQuery(service: Service, shapeId: string, params: Map<string, string>, used: Set<string>, prefix: string): unknown {
  const shape = shapeOf(service, shapeId);
  const take = (key: string) => {
    used.add(key);
    return params.get(key);
  };
  const has = (p: string) => [...params.keys()].some((k) => k === p || k.startsWith(`${p}.`));
  switch (shape.type) {
    case 'structure': {
      const out: Json = {};
      for (const [name, member] of Object.entries(shape.members ?? {})) {
        const key = `${prefix}${prefix ? '.' : ''}${(member.traits?.['smithy.api#xmlName'] as string | undefined) ?? name}`;
        if (!has(key)) continue;
        out[name] = decodeQuery(service, member.target, params, used, key);
      }
      return out;
    }
    case 'list':
    case 'set': {
      // An empty list is sent as the bare name with an empty value.
      if (params.get(prefix) === '') {
        used.add(prefix);
        return [];
      }
      const flattened = shape.traits?.['smithy.api#xmlFlattened'] !== undefined;
      const items: unknown[] = [];
      for (let i = 1; has(flattened ? `${prefix}.${i}` : `${prefix}.member.${i}`); i++)
        items.push(decodeQuery(service, (shape.member as { target: string }).target, params, used, flattened ? `${prefix}.${i}` : `${prefix}.member.${i}`));
      return items;
    }
    case 'map': {
      const out: Json = {};
      for (let i = 1; has(`${prefix}.entry.${i}`); i++) {
        const key = String(decodeQuery(service, (shape.key as { target: string }).target, params, used, `${prefix}.entry.${i}.key`));
        out[key] = decodeQuery(service, (shape.value as { target: string }).target, params, used, `${prefix}.entry.${i}.value`);
      }
      return out;
    }
    default:
      return scalarFromText(shape, take(prefix) ?? '');
  }
}

function scalarFromText(shape: Shape, text: string): unknown {
  switch (shape.type) {
    case 'integer':
    case 'long':
    case 'short':
    case 'byte':
    case 'intEnum':
      return /^-?\d+$/.test(text) ? Number(text) : text;
    case 'double':
    case 'float':
      return Number.isNaN(Number(text)) ? text : Number(text);
    case 'boolean':
      return text === 'true' ? true : text === 'false' ? false : text;
    case 'timestamp':
      return Number.isNaN(Date.parse(text)) ? text : new Date(text);
    default:
      return text;
  }
}

/** awsJson: the body as sent, with timestamps (epoch seconds) as Dates. */
function decodeJson(service: Service, shapeId: string, value: unknown): unknown {
  if (shapeId.startsWith('smithy.api#')) return value;
  const shape = shapeOf(service, shapeId);
  if (shape.type === 'timestamp' && typeof value === 'number') return new Date(value * 1000);
  if (shape.type === 'structure' && value && typeof value === 'object' && !Array.isArray(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shape.members?.[k] ? decodeJson(service, shape.members[k].target, v) : v]));
  }
  if ((shape.type === 'list' || shape.type === 'set') && Array.isArray(value))
    return value.map((v) => decodeJson(service, (shape.member as { target: string }).target, v));
  if (shape.type === 'map' && value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, decodeJson(service, (shape.value as { target: string }).target, v)]));
  return value;
}

// --- checking them against the model -------------------------------------------------------------

function shapeOf(service: Service, shapeId: string): Shape {
  const prelude: Record<string, string> = {
    String: 'string',
    Boolean: 'boolean',
    PrimitiveBoolean: 'boolean',
    Integer: 'integer',
    PrimitiveInteger: 'integer',
    Long: 'long',
    Double: 'double',
    Timestamp: 'timestamp',
    Document: 'document',
    Unit: 'structure',
  };
  if (shapeId.startsWith('smithy.api#')) return { type: prelude[shapeId.slice(11)] ?? 'document' };
  const shape = service.shapes[shapeId];
  if (!shape) throw new Error(`contracts/aws has no shape ${shapeId}`);
  return shape;
}

const describeValue = (value: unknown) =>
  (value instanceof Date ? value.toISOString() : typeof value === 'object' ? JSON.stringify(value) : String(value)).slice(0, 200);

/** Every way `value` breaks shape `shapeId`, as AWS words it ("Value 'x' at 'path' failed to satisfy constraint: ..."). */
export function validate(service: Service, shapeId: string, value: unknown, path: string, errors: string[]): void {
  const shape = shapeOf(service, shapeId);
  const fail = (constraint: string): void => {
    errors.push(`Value '${describeValue(value)}' at '${path}' failed to satisfy constraint: ${constraint}`);
  };
  const length = shape.traits?.['smithy.api#length'] as { min?: number; max?: number } | undefined;
  const range = shape.traits?.['smithy.api#range'] as { min?: number; max?: number } | undefined;
  const checkLength = (n: number) => {
    if (length?.min !== undefined && n < length.min) fail(`Member must have length greater than or equal to ${length.min}`);
    if (length?.max !== undefined && n > length.max) fail(`Member must have length less than or equal to ${length.max}`);
  };
  switch (shape.type) {
    case 'structure': {
      if (!value || typeof value !== 'object' || Array.isArray(value) || value instanceof Date) return fail('Member must be a structure');
      const members = shape.members ?? {};
      for (const [name, member] of Object.entries(members)) {
        const v = (value as Json)[name];
        const at = path ? `${path}.${lowerFirst(name)}` : lowerFirst(name);
        if (v === undefined || v === null) {
          if (member.traits?.['smithy.api#required'] !== undefined) errors.push(`Value null at '${at}' failed to satisfy constraint: Member must not be null`);
          continue;
        }
        validate(service, member.target, v, at, errors);
      }
      for (const name of Object.keys(value))
        if (!(name in members)) errors.push(`'${path ? `${path}.` : ''}${name}' is not a member of ${shapeId.split('#')[1]}`);
      return;
    }
    case 'list':
    case 'set':
      if (!Array.isArray(value)) return fail('Member must be a list');
      checkLength(value.length);
      value.forEach((item, i) => validate(service, (shape.member as { target: string }).target, item, `${path}.${i + 1}.member`, errors));
      return;
    case 'map':
      if (!value || typeof value !== 'object' || Array.isArray(value)) return fail('Member must be a map');
      checkLength(Object.keys(value).length);
      for (const [k, v] of Object.entries(value)) {
        validate(service, (shape.key as { target: string }).target, k, `${path}.key`, errors);
        validate(service, (shape.value as { target: string }).target, v, `${path}.${k}`, errors);
      }
      return;
    case 'string':
    case 'enum': {
      if (typeof value !== 'string') return fail('Member must be a string');
      checkLength([...value].length);
      const pattern = shape.traits?.['smithy.api#pattern'] as string | undefined;
      if (pattern !== undefined && !new RegExp(pattern, 'u').test(value)) fail(`Member must satisfy regular expression pattern: ${pattern}`);
      const values =
        shape.type === 'enum'
          ? Object.values(shape.members ?? {}).map((m) => m.traits?.['smithy.api#enumValue'] as string)
          : ((shape.traits?.['smithy.api#enum'] as { value: string }[] | undefined)?.map((e) => e.value) ?? undefined);
      if (values && !values.includes(value)) fail(`Member must satisfy enum value set: [${values.join(', ')}]`);
      return;
    }
    case 'integer':
    case 'long':
    case 'short':
    case 'byte':
    case 'intEnum':
      if (typeof value !== 'number' || !Number.isInteger(value)) return fail('Member must be an integer');
      if (range?.min !== undefined && value < range.min) fail(`Member must have value greater than or equal to ${range.min}`);
      if (range?.max !== undefined && value > range.max) fail(`Member must have value less than or equal to ${range.max}`);
      return;
    case 'double':
    case 'float':
      if (typeof value !== 'number' || Number.isNaN(value)) return fail('Member must be a number');
      if (range?.min !== undefined && value < range.min) fail(`Member must have value greater than or equal to ${range.min}`);
      if (range?.max !== undefined && value > range.max) fail(`Member must have value less than or equal to ${range.max}`);
      return;
    case 'boolean':
      if (typeof value !== 'boolean') fail('Member must be a boolean');
      return;
    case 'timestamp':
      if (!(value instanceof Date) || Number.isNaN(value.getTime())) fail('Member must be a timestamp');
      return;
    default:
      return;
  }
}

// --- encoding answers ----------------------------------------------------------------------------

const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** One value as awsQuery's XML: structures by member (xmlName), lists as `<member>`, maps as `<entry>`. */
function toXml(service: Service, shapeId: string, value: unknown): string {
  const shape = shapeOf(service, shapeId);
  switch (shape.type) {
    case 'structure':
      return Object.entries(shape.members ?? {})
        .filter(([name]) => (value as Json)[name] !== undefined && (value as Json)[name] !== null)
        .map(([name, member]) => {
          const tag = (member.traits?.['smithy.api#xmlName'] as string | undefined) ?? name;
          const inner = (value as Json)[name];
          const memberShape = shapeOf(service, member.target);
          if ((memberShape.type === 'list' || memberShape.type === 'set') && memberShape.traits?.['smithy.api#xmlFlattened'] !== undefined) {
            return (inner as unknown[]).map((item) => `<${tag}>${toXml(service, (memberShape.member as { target: string }).target, item)}</${tag}>`).join('');
          }
          return `<${tag}>${toXml(service, member.target, inner)}</${tag}>`;
        })
        .join('');
    case 'list':
    case 'set':
      return (value as unknown[]).map((item) => `<member>${toXml(service, (shape.member as { target: string }).target, item)}</member>`).join('');
    case 'map':
      return Object.entries(value as Json)
        .map(([k, v]) => `<entry><key>${escapeXml(k)}</key><value>${toXml(service, (shape.value as { target: string }).target, v)}</value></entry>`)
        .join('');
    case 'timestamp':
      return escapeXml(value instanceof Date ? value.toISOString() : new Date(value as string).toISOString());
    default:
      return escapeXml(String(value));
  }
}

/** JSON protocols send timestamps as epoch seconds. */
const toJson = (value: unknown): string =>
  JSON.stringify(value, function (this: Json, key: string, v: unknown) {
    const raw = this[key];
    return raw instanceof Date ? raw.getTime() / 1000 : v;
  });

// --- the server ----------------------------------------------------------------------------------

export interface AwsWireOptions {
  /** Loopback address to listen on (the AWS labs use 127.0.43.x to 127.0.46.x). */
  host: string;
  port?: number;
}

export class AwsWire {
  readonly violations: Violation[] = [];
  /** Every request that reached the double, as its IAM action (`ssm:SendCommand`) and HTTP status. */
  readonly requests: { action: string; status: number }[] = [];
  url = '';
  private server?: Server;

  constructor(readonly account: AwsAccount = new AwsAccount()) {}

  /** Listens on `host`; `env()` then gives what a runner needs to reach it. */
  async start({ host, port = 0 }: AwsWireOptions): Promise<this> {
    const server = createServer((req, res) => {
      void this.serve(req, res);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    const address = server.address() as AddressInfo;
    this.url = `http://${host}:${address.port}`;
    return this;
  }

  /** The environment the SDK (in a test, or in `node dist/index.js`) reaches the double with. */
  env(): Record<string, string> {
    return {
      AWS_ENDPOINT_URL: this.url,
      AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      AWS_REGION: REGION,
    };
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const requestId = randomUUID();
    const target = String(req.headers['x-amz-target'] ?? '');
    const scope = /Credential=[^/]+\/\d{8}\/[^/]+\/([^/]+)\/aws4_request/.exec(String(req.headers.authorization ?? ''));
    const service = SERVICES.find((s) => (target ? target.startsWith(`${s.target}.`) : s.signingName === scope?.[1]));
    // What a JSON request to a query-compatible service (CloudWatch) must answer in: JSON, with the query error code in a header.
    const json = target !== '' || service?.protocol !== 'awsQuery';
    let action = `${service?.iamPrefix ?? scope?.[1] ?? 'unknown'}:?`;
    try {
      if (!req.headers.authorization || !scope)
        throw new Refused({ status: 403, code: 'MissingAuthenticationToken', message: 'Request is missing Authentication Token', fault: 'Sender' });
      if (!service) throw new Refused({ status: 400, code: 'UnknownService', message: `no service signs as ${scope[1]} here`, fault: 'Sender' });
      if (req.method !== 'POST' || (req.url ?? '/').split('?')[0] !== '/')
        throw new Refused({ status: 404, code: 'UnknownOperationException', message: `${req.method} ${req.url}`, fault: 'Sender' });
      const { operation, input } = this.decode(service, target, body);
      action = `${service.iamPrefix}:${operation}`;
      const opShape = service.shapes[`${service.namespace}#${operation}`];
      const listed = (service.shapes[`${service.namespace}#${service.target}`]?.operations as { target: string }[]).some(
        (o) => o.target === `${service.namespace}#${operation}`,
      );
      if (!opShape || !listed || !this.account.answers(action)) {
        throw new Refused({
          status: 400,
          code: json ? 'UnknownOperationException' : 'InvalidAction',
          message: `The action ${operation} is not valid for this web service.`,
          fault: 'Sender',
        });
      }
      const errors: string[] = [];
      validate(service, (opShape.input as { target: string }).target, input, '', errors);
      if (errors.length > 0) {
        this.violations.push({ action, message: errors.join('; ') });
        throw new Refused(validationError(service, errors));
      }
      let output: unknown;
      try {
        output = this.account.answer(action, input as Json);
      } catch (error) {
        throw new Refused(this.wireErrorOf(service, error));
      }
      this.answer(res, service, json, operation, opShape, output ?? {}, requestId);
      this.requests.push({ action, status: 200 });
    } catch (error) {
      const wire: WireError =
        error instanceof Refused ? error.wire : { status: 500, code: 'InternalFailure', message: (error as Error).message, fault: 'Receiver' };
      this.requests.push({ action, status: wire.status });
      this.fail(res, service, json, wire, requestId);
    }
  }

  /** The operation and its input, decoded by the protocol the request came in. */
  private decode(service: Service, target: string, body: string): { operation: string; input: unknown } {
    if (target) {
      const operation = target.slice(target.indexOf('.') + 1);
      let parsed: unknown;
      try {
        parsed = body.trim() === '' ? {} : JSON.parse(body);
      } catch {
        throw new Refused({ status: 400, code: 'SerializationException', message: 'body is not JSON', fault: 'Sender' });
      }
      const opShape = service.shapes[`${service.namespace}#${operation}`];
      return { operation, input: opShape ? decodeJson(service, (opShape.input as { target: string }).target, parsed) : parsed };
    }
    const params = new Map(new URLSearchParams(body));
    const operation = params.get('Action') ?? '';
    const version = params.get('Version');
    const serviceVersion = service.shapes[`${service.namespace}#${service.target}`]?.version;
    if (version !== serviceVersion)
      throw new Refused({ status: 400, code: 'InvalidParameterValue', message: `Version '${version}' is not ${serviceVersion}`, fault: 'Sender' });
    const opShape = service.shapes[`${service.namespace}#${operation}`];
    if (!opShape) return { operation, input: {} };
    const used = new Set(['Action', 'Version']);
    const input = decodeQuery(service, (opShape.input as { target: string }).target, params, used, '');
    const unknown = [...params.keys()].filter((k) => !used.has(k));
    if (unknown.length > 0) {
      const action = `${service.iamPrefix}:${operation}`;
      const message = `Unknown parameter(s) for ${operation}: ${unknown.join(', ')}`;
      this.violations.push({ action, message });
      throw new Refused({ status: 400, code: 'ValidationError', message, fault: 'Sender' });
    }
    return { operation, input };
  }

  /** A failure the account model threw, in its wire code: a modeled exception answers with its awsQueryError code. */
  private wireErrorOf(service: Service, error: unknown): WireError {
    const e = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number }; $fault?: string };
    if (!e.$metadata) return { status: 500, code: 'InternalFailure', message: String(e.message ?? error), fault: 'Receiver' };
    const modeled = e.name ? service.shapes[`${service.namespace}#${e.name}`] : undefined;
    const queryError = modeled?.traits?.['aws.protocols#awsQueryError'] as { code: string; httpResponseCode: number } | undefined;
    return {
      status: queryError?.httpResponseCode ?? e.$metadata.httpStatusCode ?? 400,
      code: queryError?.code ?? e.name ?? 'InternalFailure',
      message: e.message ?? '',
      fault: e.$fault === 'server' ? 'Receiver' : 'Sender',
    };
  }

  private answer(res: ServerResponse, service: Service, json: boolean, operation: string, opShape: Shape, output: unknown, requestId: string): void {
    if (json) {
      res.writeHead(200, { 'content-type': `application/x-amz-json-${service.protocol === 'awsJson1_1' ? '1.1' : '1.0'}`, 'x-amzn-requestid': requestId });
      res.end(toJson(output));
      return;
    }
    const outputId = (opShape.output as { target: string } | undefined)?.target;
    const result = outputId ? `<${operation}Result>${toXml(service, outputId, output)}</${operation}Result>` : '';
    res.writeHead(200, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId });
    res.end(
      `<${operation}Response xmlns="${service.xmlNamespace ?? ''}">${result}<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${operation}Response>`,
    );
  }

  private fail(res: ServerResponse, service: Service | undefined, json: boolean, wire: WireError, requestId: string): void {
    if (json && service) {
      const headers: Record<string, string> = {
        'content-type': `application/x-amz-json-${service.protocol === 'awsJson1_1' ? '1.1' : '1.0'}`,
        'x-amzn-requestid': requestId,
        'x-amzn-errortype': wire.code,
      };
      // A query-compatible JSON service (CloudWatch) also gives the awsQuery error code and fault.
      if (service.protocol === 'awsQuery') headers['x-amzn-query-error'] = `${wire.code};${wire.fault}`;
      res.writeHead(wire.status, headers);
      res.end(JSON.stringify({ __type: service.protocol === 'awsQuery' ? `${service.namespace}#${wire.code}` : wire.code, message: wire.message }));
      return;
    }
    res.writeHead(wire.status, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId });
    res.end(
      `<ErrorResponse xmlns="${service?.xmlNamespace ?? ''}"><Error><Type>${wire.fault}</Type><Code>${escapeXml(wire.code)}</Code><Message>${escapeXml(wire.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
    );
  }
}
