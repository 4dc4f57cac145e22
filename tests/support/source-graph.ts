// Reads the repository's TypeScript sources with the compiler's own parser, for the structure
// tests: each file's relative imports (static, type-only and dynamic alike), and each function's
// length in lines. Run as a script, it lists the functions of src/ longer than a limit:
//   npx tsx tests/support/source-graph.ts [limit=70] [folder=src]
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Every .ts file under `folder` (relative to the repository), as repository-relative paths. */
export function sourceFiles(folder: string): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(path.join(repositoryRoot, dir), { withFileTypes: true })) {
      const child = path.posix.join(dir, entry.name);
      if (entry.isDirectory()) walk(child);
      else if (entry.name.endsWith('.ts')) found.push(child);
    }
  };
  walk(folder);
  return found.sort();
}

/** The repository-relative files `file` imports by a relative path. */
export function importsOf(file: string): string[] {
  const text = readFileSync(path.join(repositoryRoot, file), 'utf8');
  const { importedFiles } = ts.preProcessFile(text, true, true);
  return importedFiles
    .map((i) => i.fileName)
    .filter((name) => name.startsWith('.'))
    .map((name) => path.posix.normalize(path.posix.join(path.posix.dirname(file), name)));
}

export interface FunctionLength {
  file: string;
  name: string;
  line: number;
  lines: number;
}

/** Every function, method and arrow function of `file` with its length in lines, longest first. */
export function functionLengths(file: string): FunctionLength[] {
  const text = readFileSync(path.join(repositoryRoot, file), 'utf8');
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: FunctionLength[] = [];
  const lineOf = (position: number) => source.getLineAndCharacterOfPosition(position).line + 1;
  const nameOf = (node: ts.Node): string => {
    const named = node as ts.Node & { name?: ts.Node };
    if (named.name !== undefined) return named.name.getText(source);
    const parent = node.parent;
    if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent)) return parent.name.getText(source);
    return '(anonymous)';
  };
  const visit = (node: ts.Node) => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body !== undefined) {
      const start = lineOf(node.getStart(source));
      found.push({ file, name: nameOf(node), line: start, lines: lineOf(node.getEnd()) - start + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found.sort((a, b) => b.lines - a.lines);
}

/** The functions under `folder` longer than `limit` lines, longest first. */
export function longFunctions(folder: string, limit: number): FunctionLength[] {
  return sourceFiles(folder)
    .flatMap(functionLengths)
    .filter((f) => f.lines > limit)
    .sort((a, b) => b.lines - a.lines);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const limit = Number(process.argv[2] ?? 70);
  const folder = process.argv[3] ?? 'src';
  const long = longFunctions(folder, limit);
  for (const f of long) console.log(`${String(f.lines).padStart(4)}  ${f.name}  ${f.file}:${f.line}`);
  console.log(`${long.length} function(s) over ${limit} lines in ${folder}/`);
}
