import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CREDENTIAL_PATTERNS } from '../inputs.js';

/**
 * A `release-exclude` pattern, with gitignore's rules: `*` and `?` within one path part, `**`
 * across parts; a pattern with no `/` but a trailing one matches a file or directory of that name
 * anywhere; one with a `/` elsewhere is relative to release-path; a trailing `/` matches only a
 * directory (and everything in it); `!` keeps what an earlier pattern would leave out.
 */
interface Rule {
  keep: boolean;
  directoryOnly: boolean;
  /** Matched against the whole path from release-path when anchored, else against the name. */
  anchored: boolean;
  pattern: RegExp;
}

function ruleOf(text: string): Rule {
  const keep = text.startsWith('!');
  let glob = keep ? text.slice(1) : text;
  const directoryOnly = glob.endsWith('/');
  if (directoryOnly) glob = glob.slice(0, -1);
  const anchored = glob.includes('/');
  glob = glob.replace(/^\/+/, '');
  const source = glob
    .split(/(\*\*\/|\*\*|\*|\?)/)
    .map((part) => {
      if (part === '**/') return '(?:.*/)?';
      if (part === '**') return '.*';
      if (part === '*') return '[^/]*';
      if (part === '?') return '[^/]';
      return part.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    })
    .join('');
  return { keep, directoryOnly, anchored, pattern: new RegExp(`^${source}$`) };
}

/** The default credential patterns, then the user's `release-exclude` patterns: the last match decides. */
export function releaseRules(userPatterns: readonly string[]): Rule[] {
  return [...CREDENTIAL_PATTERNS, ...userPatterns].map(ruleOf);
}

function leftOut(rules: Rule[], path: string, isDirectory: boolean): boolean {
  const name = path.slice(path.lastIndexOf('/') + 1);
  let out = false;
  for (const rule of rules) {
    if (rule.directoryOnly && !isDirectory) continue;
    if (rule.pattern.test(rule.anchored ? path : name)) out = !rule.keep;
  }
  return out;
}

/**
 * What goes into the release tarball: every entry under `root` (paths relative to it, parents
 * before children) except `.git/` and `local/` at the top (each host installs its own CPAN modules)
 * and what the rules leave out. A directory left out is not entered. Symbolic links are entries of
 * their own, never followed.
 */
export function releaseFiles(root: string, rules: Rule[]): { files: string[]; leftOut: string[] } {
  const files: string[] = [];
  const out: string[] = [];
  const walk = (dir: string) => {
    const entries = readdirSync(join(root, dir), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const entry of entries) {
      const path = dir ? `${dir}/${entry.name}` : entry.name;
      if (!dir && (entry.name === '.git' || entry.name === 'local')) continue;
      const isDirectory = entry.isDirectory();
      if (leftOut(rules, path, isDirectory)) {
        out.push(isDirectory ? `${path}/` : path);
        continue;
      }
      files.push(path);
      if (isDirectory) walk(path);
    }
  };
  walk('');
  return { files, leftOut: out };
}
