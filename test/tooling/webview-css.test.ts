/**
 * The webviews' shared stylesheet is edited by several people at once; a merge that leaves a rule open swallows every
 * rule after it into a nested block, which the browser then reads differently (or drops) without a word. This checks
 * that every rule is closed and none sits inside another (at-rules such as @media may hold rules).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';

const STYLESHEET = path.join(__dirname, '..', '..', 'media', 'webview.css');

/** Problems in the block structure of `css`, each with its line: rules inside rules, unclosed or extra braces. */
function blockStructureProblems(css: string): string[] {
  const text = css.replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, ' '));
  const problems: string[] = [];
  const open: { atRule: boolean; line: number }[] = [];
  let line = 1;
  let prelude = '';
  for (const ch of text) {
    if (ch === '\n') line++;
    if (ch === '{') {
      const atRule = prelude.trim().startsWith('@');
      if (!atRule && open.length > 0 && !open[open.length - 1].atRule) problems.push(`line ${line}: a rule inside the rule opened on line ${open[open.length - 1].line}`);
      open.push({ atRule, line });
      prelude = '';
    } else if (ch === '}') {
      if (open.pop() === undefined) problems.push(`line ${line}: '}' closes nothing`);
      prelude = '';
    } else if (ch === ';' && open.length > 0 && !open[open.length - 1].atRule) {
      prelude = '';
    } else prelude += ch;
  }
  for (const o of open) problems.push(`line ${o.line}: rule never closed`);
  return problems;
}

test('the check finds a rule left open by a merge, and an extra brace', () => {
  assert.deepEqual(blockStructureProblems('.a {\n  color: red;\n.b {\n  color: blue;\n}\n'), ['line 3: a rule inside the rule opened on line 1', 'line 1: rule never closed']);
  assert.deepEqual(blockStructureProblems('.a { color: red; }\n}\n'), ["line 2: '}' closes nothing"]);
  assert.deepEqual(blockStructureProblems('@media (min-width: 1px) {\n  .a { color: red; }\n}\n/* .b { */\n'), []);
});

test('media/webview.css has every rule closed and none inside another', () => {
  assert.deepEqual(blockStructureProblems(fs.readFileSync(STYLESHEET, 'utf8')), []);
});
