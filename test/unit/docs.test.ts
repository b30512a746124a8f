import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The README is the door and docs/ the rooms behind it: a moved section must not leave a link,
// an anchor or a command pointing at nothing.

const root = fileURLToPath(new URL('../..', import.meta.url));
const README_MAX_LINES = 250;

interface Link {
  page: string;
  line: number;
  target: string;
}

interface Page {
  /** Path from the project root, with forward slashes. */
  path: string;
  text: string;
  /** The text with fenced code blocks blanked, line for line: where headings are. */
  outsideFences: string;
  /** The same with inline code blanked too, so only the prose's links count. */
  prose: string;
}

function readPage(path: string): Page {
  return pageOf(path, readFileSync(join(root, path), 'utf8'));
}

function pageOf(path: string, text: string): Page {
  let fence: string | undefined;
  const lines = text.split('\n').map((line) => {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (marker && (fence === undefined || marker.startsWith(fence))) {
      fence = fence === undefined ? marker : undefined;
      return '';
    }
    return fence === undefined ? line : '';
  });
  const outsideFences = lines.join('\n');
  const prose = outsideFences.replace(/`+[^`\n]*`+/g, (code) => ' '.repeat(code.length));
  return { path, text, outsideFences, prose };
}

const pages: Page[] = [
  readPage('README.md'),
  ...readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => readPage(`docs/${name}`)),
];

/** GitHub's heading anchor: lowercase, punctuation but `-` and `_` dropped, each space a hyphen. */
function slugOf(heading: string): string {
  return heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .replace(/[`*]/g, '')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor a page offers, repeats numbered `-1`, `-2` as GitHub numbers them. */
function anchorsOf(page: Page): Set<string> {
  const anchors = new Set<string>();
  const occurrences = new Map<string, number>();
  for (const line of page.outsideFences.split('\n')) {
    const heading = /^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(line)?.[1];
    if (heading !== undefined) {
      const base = slugOf(heading);
      let slug = base;
      while (anchors.has(slug)) {
        const next = (occurrences.get(base) ?? 0) + 1;
        occurrences.set(base, next);
        slug = `${base}-${next}`;
      }
      anchors.add(slug);
    }
    for (const match of line.matchAll(/<a\s[^>]*(?:name|id)="([^"]+)"/g)) anchors.add(match[1]!);
  }
  return anchors;
}

function lineAt(text: string, index: number): number {
  return text.slice(0, index).split('\n').length;
}

function linksOf(page: Page): Link[] {
  const patterns = [
    // [text](target "title") and ![alt](target), the text possibly wrapped over lines
    /!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g,
    // [label]: target
    /^ {0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?/gm,
    /<(?:a|img)\s[^>]*(?:href|src)="([^"]+)"/g,
  ];
  return patterns.flatMap((pattern) =>
    [...page.prose.matchAll(pattern)].map((match) => ({
      page: page.path,
      line: lineAt(page.prose, match.index),
      target: match[1]!,
    })),
  );
}

/** http(s), mailto and any other scheme lead off this repository. */
const isExternal = (target: string) => /^[a-z][a-z0-9+.-]*:/i.test(target);

function resolveLink(link: Link): { file: string; anchor: string | undefined } {
  const hash = link.target.indexOf('#');
  const path = decodeURIComponent(hash === -1 ? link.target : link.target.slice(0, hash));
  const anchor = hash === -1 ? undefined : decodeURIComponent(link.target.slice(hash + 1));
  if (path === '') return { file: link.page, anchor };
  const absolute = path.startsWith('/') ? join(root, path) : resolve(root, dirname(link.page), path);
  return { file: relative(root, absolute).split('\\').join('/'), anchor };
}

const where = (link: Link) => `${link.page}:${link.line} (${link.target})`;
const relativeLinks = pages.flatMap(linksOf).filter((link) => !isExternal(link.target));

describe('the README and docs/', () => {
  it('reads heading anchors as GitHub makes them: lowercase, punctuation dropped, spaces to hyphens, repeats numbered', () => {
    expect(slugOf('`POST /v1/events` and `POST /v1/sources/{source}/events`')).toBe('post-v1events-and-post-v1sourcessourceevents');
    expect(slugOf("What a 202 rests on: Redis's append-only file")).toBe('what-a-202-rests-on-rediss-append-only-file');
    expect(slugOf('1. What the account needs first')).toBe('1-what-the-account-needs-first');
    expect(slugOf('Redis Cluster (ElastiCache cluster mode, ElastiCache Serverless)')).toBe(
      'redis-cluster-elasticache-cluster-mode-elasticache-serverless',
    );
    expect(slugOf('snake_case -- kept')).toBe('snake_case----kept');
    const page = pageOf('example.md', '# Setup\n\n## Setup\n\n```\n# not a heading\n```\n\n## Setup\n');
    expect([...anchorsOf(page)]).toEqual(['setup', 'setup-1', 'setup-2']);
  });

  it(`README.md is a door of at most ${README_MAX_LINES} lines`, () => {
    const readme = pages.find((page) => page.path === 'README.md')!;
    expect(readme.text.trimEnd().split('\n').length).toBeLessThanOrEqual(README_MAX_LINES);
  });

  it('every relative link in README.md and docs/ points at a file that exists', () => {
    expect(relativeLinks.length).toBeGreaterThan(0);
    const missing = relativeLinks
      .filter((link) => !existsSync(join(root, resolveLink(link).file)))
      .map((link) => `${where(link)}: ${resolveLink(link).file} does not exist`);
    expect(missing).toEqual([]);
  });

  it('every #anchor in README.md and docs/ matches a heading of the page it points at', () => {
    const anchorsByFile = new Map<string, Set<string>>();
    const broken: string[] = [];
    for (const link of relativeLinks) {
      const { file, anchor } = resolveLink(link);
      if (anchor === undefined || !file.endsWith('.md') || !existsSync(join(root, file))) continue;
      if (!anchorsByFile.has(file)) anchorsByFile.set(file, anchorsOf(readPage(file)));
      if (!anchorsByFile.get(file)!.has(anchor)) broken.push(`${where(link)}: ${file} has no heading #${anchor}`);
    }
    expect(broken).toEqual([]);
  });

  it('every `npm run` script that README.md and docs/ name is in package.json', () => {
    const { scripts } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    const unknown: string[] = [];
    for (const page of pages) {
      for (const match of page.text.matchAll(/\bnpm run\s+([A-Za-z0-9][\w:.-]*)/g)) {
        const name = match[1]!.replace(/[.:]+$/, '');
        if (!(name in scripts))
          unknown.push(`${page.path}:${lineAt(page.text, match.index)}: npm run ${name} is not a script in package.json`);
      }
    }
    expect(unknown).toEqual([]);
  });

  it('every page in the README map of docs/ links back to the README', () => {
    const readme = pages.find((page) => page.path === 'README.md')!;
    const mapped = linksOf(readme)
      .filter((link) => /^\|\s*\[/.test(readme.prose.split('\n')[link.line - 1]!))
      .map((link) => resolveLink(link).file)
      .filter((file) => file.startsWith('docs/'));
    expect(mapped.length).toBeGreaterThan(0);
    const withoutWayBack = mapped.filter((file) => !linksOf(readPage(file)).some((link) => resolveLink(link).file === 'README.md'));
    expect(withoutWayBack).toEqual([]);
  });
});
