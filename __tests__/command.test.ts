import { describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { LocalRunner, shellQuote, toShell } from '../src/hosts/command.js';

describe('commands as data', () => {
  it('quotes every argument so a shell sees data, not code', async () => {
    const hostile = "x'; touch /tmp/bgp-owned-by-quote; echo '";
    expect(shellQuote('plain-value_1.2')).toBe('plain-value_1.2');
    expect(shellQuote('')).toBe("''");
    expect(toShell(['echo', hostile, '$(id)', '`id`', 'a b'])).toBe(`echo 'x'\\''; touch /tmp/bgp-owned-by-quote; echo '\\''' '$(id)' '\`id\`' 'a b'`);
    const local = new LocalRunner();
    const result = await local.run(['sh', '-c', toShell(['printf', '%s\\n', hostile, '$(id)'])]);
    expect(result).toEqual({ code: 0, stdout: `${hostile}\n$(id)\n`, stderr: '' });
    expect(existsSync('/tmp/bgp-owned-by-quote')).toBe(false);
  });

  it('runs a local command without a shell, with stdin, streaming lines', async () => {
    const lines: string[] = [];
    const result = await new LocalRunner().run(['sh', '-c', 'cat; echo err >&2; exit 3'], {
      stdin: 'one\ntwo',
      onLine: (line, stream) => lines.push(`${stream}:${line}`),
    });
    expect(result).toEqual({ code: 3, stdout: 'one\ntwo', stderr: 'err\n' });
    // Order between the two streams is up to the OS; within each stream it is kept.
    expect(lines.filter((l) => l.startsWith('stdout:'))).toEqual(['stdout:one', 'stdout:two']);
    expect(lines.filter((l) => l.startsWith('stderr:'))).toEqual(['stderr:err']);
  });

  it('reports a command that cannot start instead of throwing', async () => {
    const result = await new LocalRunner().run(['/nonexistent/haproxy', '-v']);
    expect(result.code).toBe(127);
    expect(result.stderr).toContain('ENOENT');
  });
});
