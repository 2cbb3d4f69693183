import { formatHost, type HostAddress, type SshSettings } from '../settings.js';

/**
 * Where an SSH connection goes, as settings and inputs give it, with the defaults filled in. Apart
 * from hosts/ssh.ts because the provider names a jump host before the SSH client is loaded.
 */

/** Where to connect: a host of a color, the HAProxy host, a jump host. */
export interface SshTarget {
  host: string;
  port?: number;
  user?: string;
}

export interface Endpoint {
  host: string;
  port: number;
  user: string;
  /** As logs and known_hosts write it: `10.0.0.11`, `[10.0.0.11]:2222`. */
  name: string;
}

export function endpoint(target: SshTarget | HostAddress, ssh: SshSettings): Endpoint {
  const port = target.port ?? ssh.port;
  return { host: target.host, port, user: target.user ?? ssh.user, name: formatHost({ host: target.host, ...(port !== 22 && { port }) }) };
}
