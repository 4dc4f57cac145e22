// The README and docs/ as a newcomer reads them: the README stays a front door, its order request is
// the seed's own (the one tests/integration/api-seed.test.ts sends), and every relative link and
// image points at a file and heading that exist.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const readmeLinesMax = 250;
const documents = [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];

const read = (path: string) => readFileSync(join(root, path), 'utf8');
/** Fenced code is shown, not linked: its brackets are left out of the link search. */
const withoutCode = (text: string) => text.replace(/^```[\s\S]*?^```/gm, '');

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\- _]/gu, '')
    .replace(/ /g, '-');
}

function anchorsIn(path: string): Set<string> {
  const headings = withoutCode(read(path)).match(/^#{1,6} .+$/gm) ?? [];
  return new Set(headings.map((line) => anchorOf(line.replace(/^#+ /, ''))));
}

function relativeLinks(path: string): string[] {
  const links = [...withoutCode(read(path)).matchAll(/!?\[[^\]]*\]\(([^)\s]+)\)/g)].map((match) => match[1]!);
  return links.filter((link) => !/^[a-z]+:/.test(link));
}

describe('the README and docs/', () => {
  it(`keep the README to at most ${readmeLinesMax} lines`, () => {
    expect(read('README.md').split('\n').length).toBeLessThanOrEqual(readmeLinesMax);
  });

  it("show the seed document's order request body byte for byte", () => {
    const match = /localhost:8080\/api\/v1\/orders[\s\S]*?-d '(\{[\s\S]*?\})'/.exec(read('README.md'));
    expect(match?.[1]).toBe(read('tests/fixtures/seed-000-order-request.json'));
  });

  it.each(documents)('%s: every relative link and image points at a file and heading that exist', (path) => {
    const broken: string[] = [];
    for (const link of relativeLinks(path)) {
      const [file, anchor] = link.split('#') as [string, string | undefined];
      const target = file === '' ? path : relative(root, join(root, dirname(path), file));
      if (!existsSync(join(root, target))) broken.push(`${link}: no file ${target}`);
      else if (anchor !== undefined && !anchorsIn(target).has(anchor)) broken.push(`${link}: no heading #${anchor}`);
    }
    expect(broken).toEqual([]);
  });
});
