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
  if (!/^\s*- main\b/m.test(snapshot)) problems.push('no main landmark');
  const h1 = snapshot.match(/^\s*- heading ("[^"]+"|\/.+\/) \[level=1\]/gm) ?? [];
  if (h1.length !== 1) problems.push(`${h1.length} level-1 headings with text (one wanted)`);
  for (const line of snapshot.split('\n')) {
    const m = /^\s*- ([a-z]+)(.*)$/.exec(line);
    if (!m || !NAMED_ROLES.has(m[1])) continue;
    // A name is written right after the role, quoted or as a /regex/ (Playwright writes long numbers as patterns).
    if (!/^ ("|\/)/.test(m[2])) problems.push(`unnamed ${m[1]}: ${line.trim()}`);
  }
  return { snapshot, problems };
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
