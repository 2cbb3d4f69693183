import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

/** A dist the mirror serves: rebuilt from the module Debian installed, so no network is needed. */
interface MirrorDist {
  module: string;
  version: string;
  /** CPAN author directory, as in the real index: `E/ET/ETHER`. */
  author: string;
  /** The installed module file the dist is rebuilt from. */
  source: string;
}

/** What examples/app/cpanfile.snapshot pins: the same version and path as on the public CPAN. */
export const EXAMPLE_APP_DISTS: MirrorDist[] = [{ module: 'Try::Tiny', version: '0.31', author: 'E/ET/ETHER', source: '/usr/share/perl5/Try/Tiny.pm' }];

/**
 * Builds a file:// CPAN mirror (the layout Pinto or a DarkPAN serves: dist tarballs under
 * `authors/id/...` and the `modules/02packages.details.txt.gz` index) that Carton and cpanm install
 * from with no network. World-readable: the hosts' own users install from it.
 */
export function buildCpanMirror(dists: MirrorDist[] = EXAMPLE_APP_DISTS): { url: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'bgp-cpan-'));
  chmodSync(dir, 0o755);
  const work = mkdtempSync(join(tmpdir(), 'bgp-cpan-build-'));
  const lines: string[] = [];
  for (const dist of dists) {
    const name = `${dist.module.replace(/::/g, '-')}-${dist.version}`;
    const root = join(work, name);
    const modulePath = join('lib', ...dist.module.split('::')) + '.pm';
    mkdirSync(join(root, modulePath, '..'), { recursive: true });
    copyFileSync(dist.source, join(root, modulePath));
    if (!readFileSync(dist.source, 'utf8').includes(`VERSION = '${dist.version}'`)) {
      throw new Error(`${dist.source} is not ${dist.module} ${dist.version}: the snapshot pins that version`);
    }
    writeFileSync(join(root, 'Makefile.PL'), `use ExtUtils::MakeMaker;\nWriteMakefile(NAME => '${dist.module}', VERSION_FROM => '${modulePath}');\n`);
    writeFileSync(join(root, 'MANIFEST'), `Makefile.PL\nMANIFEST\n${modulePath}\n`);
    const authorDir = join(dir, 'authors', 'id', dist.author);
    mkdirSync(authorDir, { recursive: true });
    execFileSync('tar', ['-czf', join(authorDir, `${name}.tar.gz`), '-C', work, name]);
    lines.push(`${dist.module.padEnd(30)} ${dist.version.padEnd(8)} ${dist.author}/${name}.tar.gz`);
  }
  const index = [
    'File:         02packages.details.txt',
    'Description:  Package names found in directory $CPAN/authors/id/',
    'Columns:      package name, version, path',
    'Written-By:   bluegreen-perl tests',
    `Line-Count:   ${lines.length}`,
    `Last-Updated: ${new Date().toUTCString()}`,
    '',
    ...lines,
    '',
  ].join('\n');
  mkdirSync(join(dir, 'modules'), { recursive: true });
  writeFileSync(join(dir, 'modules', '02packages.details.txt.gz'), gzipSync(index));
  execFileSync('chmod', ['-R', 'a+rX', dir]);
  execFileSync('rm', ['-rf', work]);
  return { url: `file://${dir}`, dir };
}
