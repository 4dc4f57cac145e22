// The structure as rules the build keeps (docs/architecture.md, "Layers"): no import points up a
// layer, no two files or modules import each other round a circle, a statement over a table sits
// in a *.sql.ts or *.queries.ts file, and no function of src/ runs over about 70 lines.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { importsOf, longFunctions, repositoryRoot, sourceFiles } from '../support/source-graph.ts';

/**
 * Lowest first. A file may import from its own layer or one below, never above. The modules of a
 * layer may import each other as long as no circle forms (checked below).
 */
const layers: ReadonlyArray<readonly string[]> = [
  ['src/domain'],
  ['machines', 'queues'],
  ['src/platform'],
  [
    'src/local-infra',
    'src/messaging',
    'src/relay',
    'src/orders',
    'src/inventory',
    'src/coupons',
    'src/payments',
    'src/ledger',
    'src/notifications',
    'src/audit',
    'src/retention',
  ],
  ['src/observability'],
  ['src/api'],
  ['src/admin'],
  ['src/main'],
  ['chaos'],
  ['tests'],
];

/** The module a file belongs to: its folder under src/, or its top-level folder. */
function moduleOf(file: string): string {
  const [top, second] = file.split('/');
  return top === 'src' ? `src/${second}` : (top ?? file);
}

function layerOf(file: string): number {
  const index = layers.findIndex((members) => members.includes(moduleOf(file)));
  if (index === -1) throw new Error(`${file}: its module ${moduleOf(file)} is in no layer; add it to the list`);
  return index;
}

const files = ['src', 'machines', 'queues', 'chaos', 'tests'].flatMap(sourceFiles);
const edges = files.flatMap((file) =>
  importsOf(file)
    .filter((target) => target.endsWith('.ts'))
    .map((target) => ({ from: file, to: target })),
);

/** The circles of a graph: its strongly connected components of more than one node (Tarjan). */
function circlesOf(nodes: string[], next: (node: string) => string[]): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const circles: string[][] = [];
  const visit = (node: string) => {
    index.set(node, counter);
    low.set(node, counter);
    counter += 1;
    stack.push(node);
    onStack.add(node);
    for (const target of next(node)) {
      if (!index.has(target)) {
        visit(target);
        low.set(node, Math.min(low.get(node)!, low.get(target)!));
      } else if (onStack.has(target)) low.set(node, Math.min(low.get(node)!, index.get(target)!));
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      for (;;) {
        const member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
        if (member === node) break;
      }
      if (component.length > 1) circles.push(component.sort());
    }
  };
  for (const node of nodes) if (!index.has(node)) visit(node);
  return circles;
}

describe('the import graph', () => {
  it('reads the imports it checks', () => {
    expect(files.length).toBeGreaterThan(100);
    expect(edges).toContainEqual({ from: 'src/api/app.ts', to: 'src/observability/state.collect.ts' });
  });

  it('has no arrow up a layer', () => {
    const upward = edges
      .filter((e) => layerOf(e.to) > layerOf(e.from))
      .map((e) => `${e.from} -> ${e.to} (${moduleOf(e.from)} is below ${moduleOf(e.to)})`);
    expect(upward).toEqual([]);
  });

  it('has no circle between files', () => {
    const byFile = new Map<string, string[]>();
    for (const e of edges) byFile.set(e.from, [...(byFile.get(e.from) ?? []), e.to]);
    expect(circlesOf(files, (file) => byFile.get(file) ?? [])).toEqual([]);
  });

  it('has no circle between the modules of src/', () => {
    const byModule = new Map<string, Set<string>>();
    for (const e of edges) {
      const [from, to] = [moduleOf(e.from), moduleOf(e.to)];
      if (from === to || !from.startsWith('src/')) continue;
      byModule.set(from, (byModule.get(from) ?? new Set()).add(to));
    }
    expect(circlesOf([...byModule.keys()], (m) => [...(byModule.get(m) ?? [])])).toEqual([]);
  });

  it('finds an upward arrow and a circle when there is one', () => {
    expect(layerOf('src/platform/bullmq.ts')).toBeLessThan(layerOf('src/main/engine.ts'));
    const circle = circlesOf(['a', 'b', 'c'], (n) => ({ a: ['b'], b: ['c'], c: ['a'] })[n] ?? []);
    expect(circle).toEqual([['a', 'b', 'c']]);
  });
});

/** A statement over a table: what a *.sql.ts or *.queries.ts file holds, outside comments. */
const tableStatement = /\b(SELECT\b[\s\S]{0,400}?\bFROM\s+[a-z_]+|INSERT INTO|UPDATE\s+[a-z_]+\s+SET|DELETE FROM)\b/;

/**
 * Where SQL may sit besides *.sql.ts and *.queries.ts: the platform's connection mechanics
 * (transactions, LISTEN, the migration runner) and the local infrastructure. Two files wait for
 * their own changes: dead-letters.ts for the retention work (issue 23) that rewrites its redrive,
 * module-worker.ts for the hot-path rewrite.
 */
const sqlElsewhere = [
  'src/platform/',
  'src/local-infra/',
  'src/messaging/dead-letters.ts',
  'src/messaging/module-worker.ts',
];

function withoutComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
}

describe('SQL', () => {
  it('sits in *.sql.ts and *.queries.ts files only', () => {
    const elsewhere = sourceFiles('src')
      .filter((file) => !/\.(sql|queries)\.ts$/.test(file))
      .filter((file) => !sqlElsewhere.some((allowed) => file.startsWith(allowed)))
      .filter((file) => tableStatement.test(withoutComments(readFileSync(path.join(repositoryRoot, file), 'utf8'))));
    expect(elsewhere).toEqual([]);
  });

  it('is found where it is', () => {
    expect(tableStatement.test('`SELECT id, status\n FROM orders WHERE id = $1`')).toBe(true);
    expect(tableStatement.test('`UPDATE outbox SET published_at = now()`')).toBe(true);
    expect(tableStatement.test("'select the orders from the list'")).toBe(false);
  });
});

describe('functions', () => {
  it('none in src/ runs over 70 lines', () => {
    const long = longFunctions('src', 70);
    expect(long.map((f) => `${f.file}:${f.line} ${f.name}: ${f.lines} lines`)).toEqual([]);
  });
});
