/**
 * What a screen reader gets from a webview, read from Chromium's accessibility tree through Playwright's aria snapshot
 * (shadow roots of the vscode-elements components included), and keyboard-only navigation inside a webview.
 */
import type { FrameLocator, Locator, Page } from 'playwright-core';

/** Roles a screen reader cannot make sense of without a name. */
const NAMED_ROLES = new Set(['button', 'checkbox', 'switch', 'slider', 'spinbutton', 'combobox', 'textbox', 'listbox', 'radio', 'link', 'img', 'table', 'progressbar', 'meter']);

export interface AccessibilityAudit {
  /** The aria snapshot (YAML) of the webview's body. */
  snapshot: string;
  /** Missing landmark or heading, unnamed controls, images and tables. */
  problems: string[];
}

/** Audits the webview: a main landmark, exactly one level-1 heading with text, and a name on every control, image and table. */
export async function auditAccessibility(view: FrameLocator): Promise<AccessibilityAudit> {
  const snapshot = await view.locator('body').ariaSnapshot();
  const problems: string[] = [];
  const items = snapshot.split('\n').map(snapshotItem).filter((item) => item !== null);
  if (!items.some(({ text }) => /^main\b/.test(text))) problems.push('no main landmark');
  const h1 = items.filter(({ text }) => /^heading ("[^"]+"|\/.+\/) \[level=1\]/.test(text));
  if (h1.length !== 1) problems.push(`${h1.length} level-1 headings with text (one wanted)`);
  /** The named controls enclosing the current line, by depth. */
  const namedAncestors: number[] = [];
  for (const { depth, text } of items) {
    while (namedAncestors.length > 0 && namedAncestors[namedAncestors.length - 1] >= depth) namedAncestors.pop();
    const m = /^([a-z]+)(.*)$/.exec(text);
    if (!m || !NAMED_ROLES.has(m[1])) continue;
    // A name is written right after the role, quoted or as a /regex/ (Playwright writes long numbers as patterns).
    const named = /^ ("|\/)/.test(m[2]);
    if (named) namedAncestors.push(depth);
    // An icon inside a named control (the chevron of a vscode-single-select) is read as part of that control.
    else if (!(m[1] === 'img' && namedAncestors.length > 0)) problems.push(`unnamed ${m[1]}: ${text}`);
  }
  return { snapshot, problems };
}

/** One line of the YAML snapshot as written inside its list item: `- 'heading "a: b" [level=1]':` gives `heading "a: b" [level=1]:`. */
function snapshotItem(line: string): { depth: number; text: string } | null {
  const m = /^(\s*)- (.*)$/.exec(line);
  if (!m) return null;
  const quoted = /^'(.*)'(:?)$/.exec(m[2]);
  return { depth: m[1].length, text: quoted ? `${quoted[1].replace(/''/g, "'")}${quoted[2]}` : m[2] };
}

/**
 * Puts the keyboard's starting point at `start` (a click on non-interactive text, as a user reading the page would),
 * then presses Tab until `target` has the focus. Returns the elements focused on the way (tag#id), in order; throws
 * when `target` is not reached within `maxTabs` presses, i.e. it is not reachable by keyboard in that order.
 */
export async function tabTo(page: Page, start: Locator, target: Locator, maxTabs = 25): Promise<string[]> {
  await start.click();
  const visited: string[] = [];
  for (let i = 0; i < maxTabs; i++) {
    await page.keyboard.press('Tab');
    const focused = await target.evaluate((el) => {
      const active = el.ownerDocument.activeElement;
      return { self: active === el || el.contains(active), name: active ? `${active.tagName.toLowerCase()}${active.id ? `#${active.id}` : ''}` : 'none' };
    });
    visited.push(focused.name);
    if (focused.self) return visited;
  }
  throw new Error(`not reached by ${maxTabs} Tab presses; focus went ${visited.join(' > ')}`);
}
