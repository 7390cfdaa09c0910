/**
 * Lists functions, methods and arrow functions longer than N lines (default 80), longest first:
 * `npx tsx scripts/long-functions.ts [N] [paths…]` (paths default to lambda lib bin scripts demo).
 * Prints `file:line name length`. A nested function is listed on its own and also counts
 * towards its parent's length, as a reader sees it.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

interface LongFunction {
  file: string;
  line: number;
  name: string;
  length: number;
}

function tsFiles(path: string): string[] {
  if (statSync(path).isFile()) return path.endsWith('.ts') && !path.endsWith('.d.ts') ? [path] : [];
  return readdirSync(path)
    .filter((name) => name !== 'node_modules' && !name.startsWith('.'))
    .flatMap((name) => tsFiles(join(path, name)));
}

/** The name a reader would search for: the declaration's own, or the variable/property it is assigned to. */
function nameOf(node: ts.FunctionLikeDeclaration, source: ts.SourceFile): string {
  if (node.name) return node.name.getText(source);
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent)) return parent.name.getText(source);
  if (ts.isCallExpression(parent)) return `<callback of ${parent.expression.getText(source).slice(0, 40)}>`;
  return '<anonymous>';
}

function longFunctionsIn(file: string, minLines: number): LongFunction[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: LongFunction[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      const length = end - start + 1;
      if (length > minLines) found.push({ file, line: start + 1, name: nameOf(node as ts.FunctionLikeDeclaration, source), length });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

function main(argv: string[]): void {
  const first = argv[0];
  const minLines = first !== undefined && /^\d+$/.test(first) ? Number(first) : 80;
  const paths = argv.filter((a) => !/^\d+$/.test(a));
  const roots = paths.length > 0 ? paths : ['lambda', 'lib', 'bin', 'scripts', 'demo'];
  const all = roots.flatMap(tsFiles).flatMap((file) => longFunctionsIn(file, minLines));
  all.sort((a, b) => b.length - a.length);
  for (const f of all) process.stdout.write(`${relative(process.cwd(), f.file)}:${f.line} ${f.name} ${f.length}\n`);
  process.stderr.write(`${all.length} function(s) over ${minLines} lines\n`);
}

main(process.argv.slice(2));
