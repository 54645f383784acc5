/**
 * Lists exports and class members of the product code (common/, server/, client/, webview/) that nothing uses, with
 * the TypeScript language service's find-all-references over the whole repository (tests and scripts included, so a
 * member only a test uses is reported apart, not as unused).
 *
 * usage: npm run unused [-- --json]   (about 3 minutes on 2 busy cores: a tool to run by hand, not a test)
 *
 * It reads, it never edits. activate/deactivate (VS Code calls them) are skipped, and so are public members of classes
 * that implement or extend something (VS Code calls TreeDataProvider.getChildren, for example). Interface members
 * are not checked. Reported apart: exports used only inside their own file (the `export` could go) and names only
 * tests or scripts use.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';

const ROOT = path.resolve(__dirname, '..');
const PRODUCT_DIRS = ['common/src', 'server/src', 'client/src', 'webview/src'];
const ALL_DIRS = [...PRODUCT_DIRS, 'test', 'scripts'];
/** Called by VS Code or by the runtime, not by our code. */
const ENTRY_EXPORTS = new Set(['client/src/extension.ts#activate', 'client/src/extension.ts#deactivate']);

interface Finding {
  kind: 'unused export' | 'unused member' | 'used only by tests' | 'export used only in its file';
  file: string;
  line: number;
  name: string;
}

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
      const p = path.join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(p);
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return out;
}

function languageService(files: string[]): ts.LanguageService {
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts', 'lib.dom.iterable.d.ts'],
    types: ['node', 'vscode'],
    strict: true,
    esModuleInterop: true,
    skipLibCheck: true,
    noEmit: true,
  };
  const versions = new Map(files.map((f) => [f, '1']));
  const host: ts.LanguageServiceHost = {
    getScriptFileNames: () => files,
    getScriptVersion: (f) => versions.get(f) ?? '1',
    getScriptSnapshot: (f) => (fs.existsSync(f) ? ts.ScriptSnapshot.fromString(fs.readFileSync(f, 'utf8')) : undefined),
    getCurrentDirectory: () => ROOT,
    getCompilationSettings: () => options,
    getDefaultLibFileName: (o) => ts.getDefaultLibFilePath(o),
    fileExists: ts.sys.fileExists,
    readFile: ts.sys.readFile,
    readDirectory: ts.sys.readDirectory,
    directoryExists: ts.sys.directoryExists,
    getDirectories: ts.sys.getDirectories,
  };
  return ts.createLanguageService(host, ts.createDocumentRegistry());
}

const rel = (f: string): string => path.relative(ROOT, f).split(path.sep).join('/');
const isProduct = (f: string): boolean => PRODUCT_DIRS.some((d) => rel(f).startsWith(`${d}/`));

/** Files (other than the declaration itself) that refer to the name declared at `node`. */
function referencingFiles(ls: ts.LanguageService, file: string, node: ts.Node): { files: Set<string>; inOwnFile: number } {
  const files = new Set<string>();
  let inOwnFile = 0;
  for (const symbol of ls.findReferences(file, node.getStart()) ?? []) {
    for (const ref of symbol.references) {
      if (ref.isDefinition) continue;
      if (ref.fileName === file) inOwnFile++;
      else files.add(ref.fileName);
    }
  }
  return { files, inOwnFile };
}

function implementsSomething(member: ts.ClassElement): boolean {
  const cls = member.parent;
  return ts.isClassLike(cls) && (cls.heritageClauses ?? []).some((c) => c.token === ts.SyntaxKind.ImplementsKeyword || c.token === ts.SyntaxKind.ExtendsKeyword);
}

function findUnused(): Finding[] {
  const files = ALL_DIRS.flatMap((d) => tsFiles(path.join(ROOT, d)));
  const ls = languageService(files);
  const program = ls.getProgram();
  if (!program) throw new Error('no program');
  const checker = program.getTypeChecker();
  const findings: Finding[] = [];

  for (const file of files.filter(isProduct)) {
    const source = program.getSourceFile(file);
    if (!source) continue;
    const moduleSymbol = checker.getSymbolAtLocation(source);
    const line = (n: ts.Node): number => source.getLineAndCharacterOfPosition(n.getStart()).line + 1;

    for (const exported of moduleSymbol ? checker.getExportsOfModule(moduleSymbol) : []) {
      const decl = exported.declarations?.[0];
      if (!decl || decl.getSourceFile() !== source) continue; // re-exports are judged where they are declared
      const nameNode = ts.getNameOfDeclaration(decl) ?? decl;
      if (ENTRY_EXPORTS.has(`${rel(file)}#${exported.name}`)) continue;
      const { files: users, inOwnFile } = referencingFiles(ls, file, nameNode);
      const fromProduct = [...users].filter(isProduct);
      if (users.size === 0 && inOwnFile === 0) findings.push({ kind: 'unused export', file: rel(file), line: line(nameNode), name: exported.name });
      else if (users.size === 0) findings.push({ kind: 'export used only in its file', file: rel(file), line: line(nameNode), name: exported.name });
      else if (fromProduct.length === 0 && inOwnFile === 0) findings.push({ kind: 'used only by tests', file: rel(file), line: line(nameNode), name: exported.name });
    }

    const visit = (node: ts.Node): void => {
      if (ts.isClassLike(node)) {
        for (const member of node.members) {
          if (ts.isConstructorDeclaration(member) || ts.isClassStaticBlockDeclaration(member) || ts.isIndexSignatureDeclaration(member)) continue;
          if (!member.name || ts.isComputedPropertyName(member.name)) continue;
          if (implementsSomething(member) && !(ts.getCombinedModifierFlags(member as ts.Declaration) & ts.ModifierFlags.Private)) continue;
          const { files: users, inOwnFile } = referencingFiles(ls, file, member.name);
          if (users.size === 0 && inOwnFile === 0) {
            findings.push({ kind: 'unused member', file: rel(file), line: line(member.name), name: `${node.name?.getText() ?? '(class)'}.${member.name.getText()}` });
          } else if (inOwnFile === 0 && ![...users].some(isProduct)) {
            findings.push({ kind: 'used only by tests', file: rel(file), line: line(member.name), name: `${node.name?.getText() ?? '(class)'}.${member.name.getText()}` });
          }
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return findings.sort((a, b) => a.kind.localeCompare(b.kind) || a.file.localeCompare(b.file) || a.line - b.line);
}

const findings = findUnused();
if (process.argv.includes('--json')) console.log(JSON.stringify(findings, null, 1));
else for (const f of findings) console.log(`${f.kind}\t${f.file}:${f.line}\t${f.name}`);
