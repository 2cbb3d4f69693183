import { createHash, createHmac } from 'node:crypto';

/**
 * known_hosts as OpenSSH reads it (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"): comma-separated host
 * patterns (`host`, `[host]:port`, wildcards `*` `?`, negation `!`, or a hashed `|1|salt|hash`
 * name), a key type and the base64 key. `@revoked` marks a key that must never be accepted;
 * `@cert-authority` lines are not supported and are ignored.
 */
export interface KnownHostLine {
  patterns: string[];
  type: string;
  key: string;
  revoked: boolean;
}

export function parseKnownHosts(text: string): KnownHostLine[] {
  const lines: KnownHostLine[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    const marker = fields[0]?.startsWith('@') ? fields.shift() : undefined;
    const [hosts, type, key] = fields;
    if (!hosts || !type || !key || marker === '@cert-authority') continue;
    lines.push({ patterns: hosts.split(','), type, key, revoked: marker === '@revoked' });
  }
  return lines;
}

/** The name known_hosts uses for a host: `host` on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function globMatches(pattern: string, name: string): boolean {
  const regex = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${regex}$`, 'i').test(name);
}

function hashedMatches(pattern: string, name: string): boolean {
  const [, magic, salt, hash] = pattern.split('|');
  if (magic !== '1' || !salt || !hash) return false;
  return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
}

/** Whether a line's patterns name this host (a negated match excludes it, whatever else matches). */
function lineNames(line: KnownHostLine, name: string): boolean {
  let matched = false;
  for (const pattern of line.patterns) {
    if (pattern.startsWith('!')) {
      if (globMatches(pattern.slice(1), name)) return false;
    } else if (pattern.startsWith('|') ? hashedMatches(pattern, name) : globMatches(pattern, name)) {
      matched = true;
    }
  }
  return matched;
}

export function keysFor(lines: KnownHostLine[], host: string, port: number): { trusted: KnownHostLine[]; revoked: KnownHostLine[] } {
  const name = knownHostsName(host, port);
  const named = lines.filter((line) => lineNames(line, name));
  return { trusted: named.filter((l) => !l.revoked), revoked: named.filter((l) => l.revoked) };
}

/** The key type written inside an SSH public key blob (its first string). */
export function keyTypeOf(blob: Buffer): string {
  const length = blob.length >= 4 ? blob.readUInt32BE(0) : 0;
  return blob.subarray(4, 4 + length).toString('latin1');
}

/** `SHA256:...` as `ssh-keygen -l` prints it. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** Host key algorithms a client may ask for to get a key of each known type (RSA keys sign with SHA-2 too). */
export function hostKeyAlgorithmsFor(types: string[]): string[] {
  const algorithms = types.flatMap((type) => (type === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [type]));
  return [...new Set(algorithms)];
}
