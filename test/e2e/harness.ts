/**
 * End-to-end harness: the packaged .vsix installed into a hermetic code-server (the real VS Code workbench and Node
 * extension host), driven through Debian's chromium with playwright-core. See shared/notes/vscode-e2e.md.
 *
 * One session = one code-server with its own config, user data, extensions and XDG folders, one temp workspace that
 * holds a copy of the shared ci-tiny data set, one browser page. Reuse a session across the tests of a file: starting
 * one costs about 20 s on two cores.
 */
import { ChildProcess, execFile, spawn } from 'node:child_process';
import { after, afterEach, before } from 'node:test';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { Browser, chromium, FrameLocator, Locator, Page } from 'playwright-core';
import { modelsDir } from '../../server/src/engine/locations';
import { BACKEND_NAMES } from '../../server/src/engine/names';
import { CI_TINY, MOBILENET_NOTOP_MANIFEST, requireShared } from '../helpers/shared';
import type { Engine } from '../../server/src/engine/engine';

const execFileAsync = promisify(execFile);

/** The status bar's engine text: a backend name, and "(CPU)" or "(GPU)" where the backend reports its device. */
export const STATUS_ENGINE = `(?:${BACKEND_NAMES.join('|')})(?: \\((?:CPU|GPU)\\))?`;
/** The backend status message's engine text: "<backend> on <device>". */
export const STATUS_BACKEND = `(?:${BACKEND_NAMES.join('|')}) on [^·]+`;

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const ARTIFACTS_DIR = path.join(REPO_ROOT, 'test-artifacts', 'e2e');
const PACKAGE = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  publisher: string;
};
export const EXTENSION_ID = `${PACKAGE.publisher}.${PACKAGE.name}`;

const CHROMIUM = process.env.CXR_E2E_CHROMIUM ?? '/usr/bin/chromium';
// Without the network flags chromium keeps trying to reach Google services on a closed network.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function codeServerBin(): string {
  if (process.env.CXR_E2E_CODE_SERVER) return process.env.CXR_E2E_CODE_SERVER;
  const cache = process.env.CXR_E2E_CACHE ?? path.join(os.homedir(), '.cache', 'cxr-e2e');
  return path.join(cache, 'node_modules', '.bin', 'code-server');
}

export function vsixPath(): string {
  return process.env.CXR_E2E_VSIX ? path.resolve(process.env.CXR_E2E_VSIX) : path.join(REPO_ROOT, `${PACKAGE.name}-${PACKAGE.version}.vsix`);
}

export interface SessionOptions {
  /** Name used for the artifact folder and the temp folders. */
  name: string;
  /** Workspace trust: false (the default) turns the trust feature off, true leaves VS Code's trust prompt on. */
  workspaceTrust?: boolean;
  /** Extra user settings, merged over the defaults. */
  settings?: Record<string, unknown>;
  /** Extra environment for code-server; the extension host and the backend process inherit it. */
  env?: Record<string, string>;
  /** Settings of the workspace folder (.vscode/settings.json), written before the workbench opens it. */
  workspaceSettings?: Record<string, unknown>;
}

function log(msg: string): void {
  process.stderr.write(`[e2e ${new Date().toISOString().slice(11, 23)}] ${msg}\n`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function waitHealthy(url: string, proc: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`code-server exited with code ${proc.exitCode} before becoming healthy`);
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`code-server not healthy at ${url} after ${timeoutMs} ms`);
}

/** Signals code-server's whole process group: it, its extension host and the backend process the host forked. */
function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is gone
  }
}

export class CodeServerSession {
  readonly timings: Record<string, number> = {};
  page!: Page;
  private browser: Browser | undefined;
  private server: ChildProcess | undefined;
  private readonly exitHandler = (): void => signalGroup(this.server?.pid, 'SIGKILL');
  /** The command runCommand ran last and the answers quickPick/quickInput gave it since (see answerStep). */
  private flow: { command: string; answers: FlowAnswer[] } | null = null;

  private constructor(
    readonly opts: SessionOptions,
    /** Temp root holding state/ (code-server) and workspace/. */
    readonly root: string,
    readonly workspace: string,
    /** The workspace's copy of ci-tiny. */
    readonly dataDir: string,
    readonly runsDir: string,
    readonly port: number,
  ) {}

  get stateDir(): string {
    return path.join(this.root, 'state');
  }

  get artifactsDir(): string {
    return path.join(ARTIFACTS_DIR, this.opts.name);
  }

  /** Starts code-server with the packaged extension installed and opens the workspace in chromium. */
  static async start(opts: SessionOptions): Promise<CodeServerSession> {
    const bin = codeServerBin();
    if (!fs.existsSync(bin)) throw new Error(`code-server not found at ${bin}. Run \`npm run e2e:install\` first.`);
    if (!fs.existsSync(CHROMIUM)) throw new Error(`chromium not found at ${CHROMIUM}. Run \`npm run e2e:install\` first.`);
    const vsix = vsixPath();
    if (!fs.existsSync(vsix)) throw new Error(`${vsix} not found. Run \`npm run package\` first (npm run test:e2e does).`);

    const ciTiny = requireShared(CI_TINY);

    const root = fs.mkdtempSync(path.join(os.tmpdir(), `cxr-e2e-${opts.name}-`));
    const workspace = path.join(root, 'workspace');
    const dataDir = path.join(workspace, 'data', 'ci-tiny');
    const runsDir = path.join(workspace, 'runs');
    fs.mkdirSync(path.dirname(dataDir), { recursive: true });
    fs.cpSync(ciTiny, dataDir, { recursive: true });
    const session = new CodeServerSession(opts, root, workspace, dataDir, runsDir, await freePort());
    fs.rmSync(session.artifactsDir, { recursive: true, force: true });
    fs.mkdirSync(session.artifactsDir, { recursive: true });
    try {
      await session.launch(bin, vsix);
    } catch (e) {
      await session.screenshot('startup-failure').catch(() => undefined);
      await session.stop();
      throw e;
    }
    return session;
  }

  private async timed<T>(label: string, fn: () => Promise<T>): Promise<T> {
    const t0 = Date.now();
    const result = await fn();
    this.timings[label] = Date.now() - t0;
    log(`${this.opts.name}: ${label} ${this.timings[label]} ms`);
    return result;
  }

  private env(): NodeJS.ProcessEnv {
    const state = this.stateDir;
    return {
      ...process.env,
      XDG_CONFIG_HOME: path.join(state, 'xdg-config'),
      XDG_DATA_HOME: path.join(state, 'xdg-data'),
      XDG_CACHE_HOME: path.join(state, 'xdg-cache'),
      ...this.opts.env,
    };
  }

  private baseArgs(): string[] {
    const state = this.stateDir;
    return ['--config', path.join(state, 'config.yaml'), '--user-data-dir', path.join(state, 'data'), '--extensions-dir', path.join(state, 'ext')];
  }

  private writeConfig(): void {
    const state = this.stateDir;
    fs.mkdirSync(path.dirname(this.userSettingsFile), { recursive: true });
    fs.writeFileSync(path.join(state, 'config.yaml'), `bind-addr: 127.0.0.1:${this.port}\nauth: none\ncert: false\n`);
    const settings = {
      'workbench.startupEditor': 'none',
      'workbench.tips.enabled': false,
      'workbench.enableExperiments': false,
      'telemetry.telemetryLevel': 'off',
      'extensions.autoUpdate': false,
      'extensions.autoCheckUpdates': false,
      'extensions.ignoreRecommendations': true,
      'update.mode': 'none',
      'git.enabled': false,
      // rightClickExplorer walks the tree one folder per row; compact folders would merge "data/ci-tiny" into one.
      'explorer.compactFolders': false,
      'chat.disableAIFeatures': true,
      'security.workspace.trust.enabled': this.opts.workspaceTrust ?? false,
      'cxr.modelsDirectory': modelsDir(),
      'cxr.runsDirectory': this.runsDir,
      ...this.opts.settings,
    };
    fs.writeFileSync(this.userSettingsFile, JSON.stringify(settings, null, 2));
    if (this.opts.workspaceSettings) this.writeWorkspaceSettings(this.opts.workspaceSettings);
  }

  /** The user settings file of this session's code-server (what ConfigurationTarget.Global writes). */
  get userSettingsFile(): string {
    return path.join(this.stateDir, 'data', 'User', 'settings.json');
  }

  /**
   * Writes the workspace folder's .vscode/settings.json. code-server picks up an edit of this file at once (the
   * workspace is watched); it does not notice an outside edit of the user settings file, so a test changes user
   * settings through the Settings editor instead.
   */
  writeWorkspaceSettings(settings: Record<string, unknown>): void {
    fs.mkdirSync(path.join(this.workspace, '.vscode'), { recursive: true });
    fs.writeFileSync(path.join(this.workspace, '.vscode', 'settings.json'), JSON.stringify(settings, null, 2));
  }

  /** What the extension wrote to its "CXR Studio" log output channel so far (all windows of this session). */
  extensionLog(): string {
    const found: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(p);
        else if (entry.name === 'CXR Studio.log') found.push(fs.readFileSync(p, 'utf8'));
      }
    };
    const logs = path.join(this.stateDir, 'data', 'logs');
    if (fs.existsSync(logs)) walk(logs);
    return found.join('\n');
  }

  private async launch(bin: string, vsix: string): Promise<void> {
    this.writeConfig();
    await this.timed('install-extension', async () => {
      const { stdout, stderr } = await execFileAsync(bin, [...this.baseArgs(), '--install-extension', vsix], { env: this.env() });
      if (!/successfully installed/i.test(stdout + stderr)) throw new Error(`--install-extension did not succeed:\n${stdout}\n${stderr}`);
    });

    const logFile = fs.openSync(path.join(this.artifactsDir, 'code-server.log'), 'w');
    this.server = spawn(
      bin,
      [
        ...this.baseArgs(),
        '--bind-addr', `127.0.0.1:${this.port}`,
        '--auth', 'none',
        '--disable-telemetry',
        '--disable-update-check',
        '--disable-getting-started-override',
        '--ignore-last-opened',
        this.workspace,
      ],
      { env: this.env(), detached: true, stdio: ['ignore', logFile, logFile] },
    );
    fs.closeSync(logFile);
    process.once('exit', this.exitHandler);
    await this.timed('server-healthy', () => waitHealthy(`http://127.0.0.1:${this.port}/healthz`, this.server!, 30_000));

    this.browser = await this.timed('browser-launch', () =>
      chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true }),
    );
    this.page = await this.browser.newPage({ viewport: { width: 1400, height: 900 } });
    this.page.setDefaultTimeout(15_000);
    // The workbench's and the webviews' console, for diagnosing failures (the extension host logs to logs/).
    const consoleLog = path.join(this.artifactsDir, 'browser-console.log');
    const record = (line: string): void => fs.appendFileSync(consoleLog, `${new Date().toISOString().slice(11, 23)} ${line}\n`);
    this.page.on('console', (m) => {
      if ((m.type() === 'error' || m.type() === 'warning') && !/can escape its sandboxing|started in a same-origin iframe/.test(m.text())) record(`[${m.type()}] ${m.text()} (${m.location().url.slice(0, 120)})`);
    });
    this.page.on('pageerror', (e) => record(`[pageerror] ${e.message}`));
    await this.timed('workbench-ready', async () => {
      await this.page.goto(`http://127.0.0.1:${this.port}/?folder=${encodeURIComponent(this.workspace)}`, { timeout: 120_000 });
      await this.page.locator('.monaco-workbench').waitFor({ timeout: 120_000 }); // minutes on a busy 2-core machine
    });
  }

  /** Runs `start` (e.g. "CXR: Train Model" and its quick picks) and returns the run folder it created in the runs folder. */
  async newRunFolder(start: () => Promise<void>, timeoutMs = 60_000): Promise<string> {
    const names = (): string[] => (fs.existsSync(this.runsDir) ? fs.readdirSync(this.runsDir) : []);
    const existing = new Set(names());
    await start();
    const created = await waitUntil(() => names().find((n) => !existing.has(n)), timeoutMs, 'a new run folder appears');
    return path.join(this.runsDir, created);
  }

  /** The status bar entry an extension created with `createStatusBarItem(id)`. */
  statusBarItem(id: string): Locator {
    return this.page.locator(`.statusbar-item[id="${EXTENSION_ID}.${id}"]`);
  }

  private async openPalette(query: string): Promise<Locator> {
    const input = this.page.locator('.quick-input-widget input');
    if (!(await input.isVisible())) {
      await this.page.keyboard.press('F1');
      const opened = await input.waitFor({ state: 'visible', timeout: 3000 }).then(() => true, () => false);
      if (!opened) {
        // Keyboard focus was inside a webview's iframe, which keeps the key: take focus back to the workbench page.
        // (A string so that this Node-side file needs no DOM typings.)
        await this.page.evaluate('document.activeElement && document.activeElement.blur()');
        await this.page.keyboard.press('F1');
      }
    }
    await input.waitFor({ state: 'visible' });
    await input.fill(query);
    return this.page.locator('.quick-input-widget .quick-input-list .monaco-list-row');
  }

  /** Titles the command palette lists for `filter` (e.g. "CXR:"); the palette is closed again. */
  async paletteCommands(filter: string): Promise<string[]> {
    this.flow = null;
    const rows = await this.openPalette(`>${filter}`);
    await rows.first().waitFor();
    await this.page.waitForTimeout(300); // the list filters as it renders
    const labels = await rows.locator('.label-name').allInnerTexts();
    await this.page.keyboard.press('Escape');
    return labels.map((l) => l.trim());
  }

  /**
   * Runs a command from the palette by its full title as shown there, e.g. "CXR: Train Model". The quick picks and
   * input boxes it then shows are answered with quickPick and quickInput; until another harness step runs, those
   * remember the answers, so that a quick input a webview's late focus closes midway is brought back (see answerStep).
   */
  async runCommand(title: string): Promise<void> {
    await this.runFromPalette(title);
    this.flow = { command: title, answers: [] };
  }

  /** Runs a command from the palette; the palette is opened again if a webview taking focus closed it meanwhile. */
  private async runFromPalette(title: string): Promise<void> {
    this.flow = null;
    for (let attempt = 1; ; attempt++) {
      const rows = await this.openPalette(`>${title}`);
      const row = rows.filter({ has: this.page.locator('.label-name', { hasText: new RegExp(`^\\s*${escapeRegExp(title)}\\s*$`) }) }).first();
      if (attempt < 3 && !(await row.waitFor({ timeout: 5000 }).then(() => true, () => false))) continue;
      await row.click();
      return;
    }
  }

  /** Picks the row of the open quick pick whose label is `label` (a string: exactly, icons aside; a RegExp: matching). */
  async quickPick(label: string | RegExp): Promise<void> {
    await this.answerStep({ kind: 'pick', label });
  }

  /** Runs a command that asks with a quick pick, and picks `label` (runCommand, then quickPick). */
  async runCommandAndPick(title: string, label: string | RegExp): Promise<void> {
    await this.runCommand(title);
    await this.quickPick(label);
  }

  /**
   * Types `text` into the open input box (or quick pick filter) and accepts it, then waits until the box has closed or
   * moved on (a next step shows another value). Seen in CI: an Enter pressed while the box was still settling was lost,
   * leaving the box open with the text; it is pressed once more then.
   */
  async quickInput(text: string): Promise<void> {
    await this.answerStep({ kind: 'input', text });
  }

  /**
   * Answers the next step of the command run last (or of whatever opened the quick input). Seen in CI: a webview that
   * takes focus just after a step (one still opening from the step before) closes the quick input, and the command gives
   * up. When the step's quick input does not show and the harness ran the command, the command is run again and the
   * answers given so far are replayed, up to twice. Any other harness step ends the command's turn: nothing is replayed
   * for a quick input opened by a context menu, a notification or a webview.
   */
  private async answerStep(answer: FlowAnswer): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const flow = this.flow;
      const ready = await this.stepShows(answer, flow && attempt <= 2 ? 15_000 : undefined);
      if (!ready) {
        log(`${this.opts.name}: the quick input for ${describeAnswer(answer)} did not show: running "${flow!.command}" again`);
        await this.runFromPalette(flow!.command);
        for (const earlier of flow!.answers) {
          await this.stepShows(earlier);
          await this.giveAnswer(earlier);
        }
        this.flow = flow;
        continue;
      }
      await this.giveAnswer(answer);
      this.flow = flow && { command: flow.command, answers: [...flow.answers, answer] };
      return;
    }
  }

  /** Waits for the step's quick input (the row to pick, or the input box); false if it did not show within `timeoutMs`
   * (without a timeout, the page's default applies and a missing step throws). */
  private async stepShows(answer: FlowAnswer, timeoutMs?: number): Promise<boolean> {
    const target = answer.kind === 'pick' ? this.quickPickRow(answer.label) : this.page.locator('.quick-input-widget input');
    if (timeoutMs === undefined) {
      await target.waitFor({ state: 'visible' });
      return true;
    }
    return target.waitFor({ state: 'visible', timeout: timeoutMs }).then(() => true, () => false);
  }

  private quickPickRow(label: string | RegExp): Locator {
    const name = typeof label === 'string' ? new RegExp(`^\\s*${escapeRegExp(label)}\\s*$`) : label;
    return this.page
      .locator('.quick-input-widget .quick-input-list .monaco-list-row')
      .filter({ has: this.page.locator('.label-name', { hasText: name }) })
      .first();
  }

  private async giveAnswer(answer: FlowAnswer): Promise<void> {
    if (answer.kind === 'pick') {
      await this.quickPickRow(answer.label).click();
      return;
    }
    const text = answer.text;
    const input = this.page.locator('.quick-input-widget input');
    // A value the box sets as it shows (a proposal) can land after the typing: type again until the text holds.
    for (let i = 0; i < 3; i++) {
      await input.fill(text);
      if ((await input.inputValue()) === text) break;
      await this.page.waitForTimeout(200);
    }
    const accepted = async (): Promise<boolean> => !(await input.isVisible()) || (await input.inputValue()) !== text;
    for (let attempt = 1; ; attempt++) {
      await input.press('Enter');
      const moved = await waitUntil(accepted, 3000, 'the input box accepts').then(() => true, () => false);
      if (moved) return;
      if (attempt === 2) throw new Error(`the input box stayed open with "${text}" after Enter, twice`);
    }
  }

  /**
   * Waits until the open save dialog (in code-server a quick input holding the proposed path) has filled in its
   * proposal, a path ending in `extension`, and returns it: the dialog fills it in a moment after it shows, so a
   * test that types over it races the dialog. Press Enter on `saveDialogInput()` to accept it.
   */
  async saveDialogProposal(extension: string): Promise<string> {
    this.flow = null;
    const input = this.saveDialogInput();
    await input.waitFor({ state: 'visible' });
    let proposed = await input.inputValue();
    for (let i = 0; i < 100 && !proposed.endsWith(extension); i++) {
      await this.page.waitForTimeout(100);
      proposed = await input.inputValue();
    }
    if (!proposed.endsWith(extension)) throw new Error(`the save dialog proposed no ${extension} file after 10 s: "${proposed}"`);
    return proposed;
  }

  /**
   * Picks `file` in the simple open dialog. The dialog fills in its starting folder a moment after it shows, and a path
   * typed before that is overwritten (Enter then opens the folder): wait for the folder, type, and check the value held.
   */
  async pickInOpenDialog(file: string): Promise<void> {
    this.flow = null;
    const input = this.saveDialogInput();
    await input.waitFor({ state: 'visible' });
    for (let i = 0; i < 100 && !(await input.inputValue()).endsWith('/'); i++) await this.page.waitForTimeout(100);
    const row = this.page.locator('.quick-input-widget .quick-input-list .monaco-list-row').filter({ hasText: path.basename(file) }).first();
    for (let attempt = 0; attempt < 3; attempt++) {
      // Seen once in CI: the dialog never listed the file after a fill; typing the path key by key makes it update.
      if (attempt === 0) await input.fill(file);
      else {
        await input.fill('');
        await input.pressSequentially(file, { delay: 5 });
      }
      // The dialog lists the typed folder's entries as it updates: accept once it shows the file.
      const listed = await row.waitFor({ timeout: 7000 }).then(() => true, () => false);
      if (listed && (await input.inputValue()) === file) break;
      if (!listed && attempt === 2) throw new Error(`the open dialog never listed ${path.basename(file)} after the path was typed three times (value "${await input.inputValue()}")`);
    }
    if ((await input.inputValue()) !== file) throw new Error(`the open dialog kept overwriting the typed path with "${await input.inputValue()}"`);
    await input.press('Enter');
  }

  saveDialogInput(): Locator {
    return this.page.locator('.quick-input-widget input');
  }

  /** Waits for a notification toast containing `text`; returns it once it has slid in. */
  async waitToast(text: string | RegExp, timeoutMs = 15_000): Promise<Locator> {
    this.flow = null;
    const toast = this.page.locator('.notifications-toasts .notification-list-item').filter({ hasText: text }).first();
    await toast.waitFor({ state: 'visible', timeout: timeoutMs });
    await this.page.waitForTimeout(400);
    return toast;
  }

  /** Opens the explorer, expands the folders on `relPath` (relative to the workspace) and right-clicks its last part.
   * Returns the context menu's item labels; click one with `contextMenuItem(label)`. */
  async rightClickExplorer(relPath: string): Promise<string[]> {
    this.flow = null;
    await this.showExplorer();
    const parts = relPath.split(/[\\/]/).filter(Boolean);
    let row: Locator | undefined;
    for (let i = 0; i < parts.length; i++) {
      row = this.page
        .locator(`.explorer-folders-view .monaco-list-row[aria-level="${i + 1}"]`)
        .filter({ has: this.page.locator('.label-name', { hasText: new RegExp(`^${escapeRegExp(parts[i])}$`) }) })
        .first();
      await row.waitFor();
      if (i < parts.length - 1 && (await row.getAttribute('aria-expanded')) !== 'true') await row.click();
    }
    await this.listSettled(row!);
    return this.openContextMenu(row!);
  }

  /** Runs the item `label` of the open context menu. A click right after the menu opens is sometimes swallowed, so
   * the item is hovered (which focuses it) and run with Enter; the menu must then close. */
  /** Picks an item of the open context menu; returns the time (epoch ms) it was chosen, for open-to-result timings. */
  async contextMenuItem(label: string): Promise<number> {
    this.flow = null;
    const menu = this.page.locator('.monaco-menu');
    const item = menu.locator('.action-item').filter({ has: this.page.locator('.action-label', { hasText: new RegExp(`^\\s*${escapeRegExp(label)}\\s*$`) }) }).first();
    await item.hover();
    await this.page.locator('.monaco-menu .action-item.focused').filter({ hasText: label }).waitFor();
    const chosenAt = Date.now();
    await this.page.keyboard.press('Enter');
    await menu.first().waitFor({ state: 'hidden' });
    return chosenAt;
  }

  async showExplorer(): Promise<void> {
    const view = this.page.locator('.explorer-folders-view');
    if (!(await view.isVisible())) {
      await this.page.keyboard.press('Control+Shift+E');
      await view.waitFor();
    }
  }

  /** Opens the activity bar container whose title starts with `title` (e.g. "CXR Studio"). */
  async openContainer(title: string): Promise<void> {
    this.flow = null;
    const item = this.page.locator(`.activitybar .action-item .action-label[aria-label^="${title}"]`).first();
    await item.waitFor();
    const li = item.locator('xpath=..');
    if ((await li.getAttribute('aria-selected')) !== 'true' && !(await li.evaluate((el) => el.classList.contains('checked')))) await item.click();
    await this.page.locator('.sidebar .composite.title').filter({ hasText: new RegExp(escapeRegExp(title), 'i') }).first().waitFor();
  }

  /** Expands the view (pane) titled `title` in the visible side bar if collapsed; returns its body. */
  async expandView(title: string): Promise<Locator> {
    this.flow = null;
    const pane = this.page.locator('.sidebar .pane').filter({ has: this.page.locator('.pane-header .title', { hasText: new RegExp(`^${escapeRegExp(title)}$`, 'i') }) }).first();
    const header = pane.locator('.pane-header').first();
    await header.waitFor();
    if ((await header.getAttribute('aria-expanded')) !== 'true') await header.click();
    const body = pane.locator('.pane-body');
    await body.waitFor();
    return body;
  }

  /** Content of the most recently shown webview (panel or custom editor). */
  webviewFrame(): FrameLocator {
    return this.page.locator('iframe.webview.ready').last().contentFrame().frameLocator('#active-frame');
  }

  /** Content of the webview (panel or custom editor) holding an element with id `elementId`, for when several
   * webviews are open; waits until one shows it. Visible webviews are searched first, newest first. */
  async webviewWith(elementId: string, timeoutMs = 15_000): Promise<FrameLocator> {
    return this.webviewMatching(`#${elementId}`, timeoutMs);
  }

  /** Like webviewWith, for any CSS selector (e.g. a built-in webview's `img`). */
  async webviewMatching(selector: string, timeoutMs = 15_000): Promise<FrameLocator> {
    this.flow = null;
    const deadline = Date.now() + timeoutMs;
    const frames = this.page.locator('iframe.webview.ready');
    for (;;) {
      // Each webview's iframe is named with the webview's id: a locator by name stays on that webview.
      const visible: string[] = [];
      const hidden: string[] = [];
      for (let i = (await frames.count()) - 1; i >= 0; i--) {
        const name = await frames.nth(i).getAttribute('name').catch(() => null);
        if (name) ((await frames.nth(i).isVisible()) ? visible : hidden).push(name);
      }
      for (const name of [...visible, ...hidden]) {
        const frame = this.page.locator(`iframe.webview[name="${name}"]`).contentFrame().frameLocator('#active-frame');
        if ((await frame.locator(selector).count().catch(() => 0)) > 0) return frame;
      }
      if (Date.now() > deadline) throw new Error(`no webview shows ${selector} after ${timeoutMs} ms; webviews: ${await this.describeWebviews()}`);
      await this.page.waitForTimeout(200);
    }
  }

  /** The webview iframes in the page and what each one shows, for failure messages. */
  private async describeWebviews(): Promise<string> {
    const frames = this.page.locator('iframe.webview');
    const out: string[] = [];
    for (let i = 0; i < (await frames.count()); i++) {
      const f = frames.nth(i);
      const inner = f.contentFrame().locator('#active-frame');
      const pending = (await f.contentFrame().locator('#pending-frame').count().catch(() => 0)) > 0 ? ' (a #pending-frame is loading)' : '';
      const content = (await inner.count().catch(() => 0))
        ? await f.contentFrame().frameLocator('#active-frame').locator('body').getAttribute('class', { timeout: 1000 }).catch(() => 'no body')
        : `no #active-frame${pending}`;
      out.push(`[${await f.getAttribute('class')} visible=${await f.isVisible()} body=${content}]`);
    }
    return out.join(' ') || 'none';
  }

  /** The editor tab whose label matches `label`. */
  tab(label: string | RegExp): Locator {
    return this.page.locator('.tabs-container .tab').filter({ has: this.page.locator('.label-name', { hasText: label }) }).first();
  }

  /** Dismisses every notification toast (they pile up and cover the editor in screenshots). */
  async clearNotifications(): Promise<void> {
    await this.runFromPalette('Notifications: Clear All Notifications');
    await this.page.locator('.notifications-toasts .notification-list-item').first().waitFor({ state: 'hidden' });
  }

  /** Switches the colour theme from the palette ("Preferences: Color Theme") and waits for the workbench to apply it. */
  async setColorTheme(label: string): Promise<void> {
    await this.runCommand('Preferences: Color Theme');
    await this.page.locator('.quick-input-widget input').fill(label);
    await this.quickPick(label);
    await this.page.locator('.quick-input-widget').waitFor({ state: 'hidden' });
    await this.page.locator(`.monaco-workbench.${THEME_CLASSES[label] ?? 'vs-dark'}`).waitFor();
  }

  /** The row of the side bar view `viewTitle` (opened in the "CXR Studio" container) whose label is `label`. */
  async viewRow(viewTitle: string, label: string | RegExp, level = 1): Promise<Locator> {
    await this.openContainer('CXR Studio');
    const body = await this.expandView(viewTitle);
    const name = typeof label === 'string' ? new RegExp(`^${escapeRegExp(label)}$`) : label;
    const row = body.locator(`.monaco-list-row[aria-level="${level}"]`).filter({ has: this.page.locator('.label-name', { hasText: name }) }).first();
    await row.waitFor();
    return row;
  }

  /**
   * Right-clicks a row (of a tree view) and returns the context menu's item labels. The tree must first show the same
   * rows for a moment: a menu opened on a row that a refresh then replaces runs its command on a stale node (seen in CI:
   * the command then asked which run). A right-click that opens no menu (taken by a hover) is repeated.
   */
  async rightClickRow(row: Locator): Promise<string[]> {
    this.flow = null;
    await this.listSettled(row);
    return this.openContextMenu(row);
  }

  /**
   * Clicks a tree row, running its command. Seen in CI: a row that a refresh has just replaced carries a command VS
   * Code no longer knows ("Actual command not found"); the click is then repeated once the tree has settled.
   */
  async clickRow(row: Locator): Promise<void> {
    this.flow = null;
    const stale = this.page.locator('.notifications-toasts .notification-list-item').filter({ hasText: /Actual command not found/ });
    for (let attempt = 1; ; attempt++) {
      await this.listSettled(row);
      await row.click();
      if (!(await stale.first().waitFor({ timeout: 1500 }).then(() => true, () => false))) return;
      if (attempt === 3) throw new Error("the row's command was stale after three clicks");
      log(`${this.opts.name}: a tree row's command was stale; clicking again`);
      await this.clearNotifications();
    }
  }

  /** Right-clicks `row` until a context menu shows (three tries) and returns its item labels. */
  private async openContextMenu(row: Locator): Promise<string[]> {
    const items = this.page.locator('.monaco-menu .action-item .action-label');
    for (let attempt = 1; ; attempt++) {
      await this.page.mouse.move(1, 1); // a hover card left over the row takes the click
      await row.click({ button: 'right' });
      if (await items.first().waitFor({ timeout: 3000 }).then(() => true, () => false)) break;
      if (attempt === 3) throw new Error('no context menu after three right-clicks');
      await this.page.keyboard.press('Escape');
    }
    return (await items.allInnerTexts()).map((t) => t.trim()).filter(Boolean);
  }

  /** Waits (up to 5 s) until the list or tree holding `row` has shown the same rows for half a second. */
  private async listSettled(row: Locator): Promise<void> {
    const rows = row.locator('xpath=ancestor::div[contains(concat(" ", normalize-space(@class), " "), " monaco-list ")][1]').locator('.monaco-list-row');
    const deadline = Date.now() + 5000;
    let shown = '';
    let since = Date.now();
    while (Date.now() < deadline) {
      const now = (await rows.allInnerTexts().catch(() => [])).join('\n');
      if (now !== shown) {
        shown = now;
        since = Date.now();
      } else if (Date.now() - since >= 500) {
        return;
      }
      await this.page.waitForTimeout(150);
    }
  }

  /** Saves a screenshot into test-artifacts/e2e/<session>/<name>.png and returns its path. */
  async screenshot(name: string): Promise<string> {
    this.flow = null;
    const file = path.join(this.artifactsDir, `${name.replace(/[^\w.-]+/g, '_')}.png`);
    if (this.page) await this.page.screenshot({ path: file });
    return file;
  }

  /** Stops browser and code-server (with everything it started), keeps logs in the artifacts folder, removes temp
   * folders (kept when CXR_E2E_KEEP=1). Safe to call more than once and after a failed start. */
  async stop(): Promise<void> {
    await this.browser?.close().catch(() => undefined);
    this.browser = undefined;
    if (this.server) {
      const server = this.server;
      const exited = new Promise<void>((r) => (server.exitCode !== null || server.signalCode !== null ? r() : server.once('exit', () => r())));
      signalGroup(server.pid, 'SIGTERM');
      const timer = setTimeout(() => signalGroup(server.pid, 'SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
      // Whatever of the group outlived code-server itself.
      signalGroup(server.pid, 'SIGKILL');
      process.removeListener('exit', this.exitHandler);
      this.server = undefined;
    }
    const logs = path.join(this.stateDir, 'data', 'logs');
    if (fs.existsSync(logs)) fs.cpSync(logs, path.join(this.artifactsDir, 'logs'), { recursive: true });
    if (process.env.CXR_E2E_KEEP !== '1') fs.rmSync(this.root, { recursive: true, force: true });
    else log(`${this.opts.name}: kept ${this.root}`);
  }
}

/** One answer to a step of a command's quick inputs: a quick pick row, or text typed and accepted. */
type FlowAnswer = { kind: 'pick'; label: string | RegExp } | { kind: 'input'; text: string };

function describeAnswer(answer: FlowAnswer): string {
  return answer.kind === 'pick' ? `the pick "${String(answer.label)}"` : `the input "${answer.text}"`;
}

/** The class the workbench element gets for the built-in themes the tests switch to. */
const THEME_CLASSES: Record<string, string> = {
  'Dark Modern': 'vs-dark',
  'Light Modern': 'vs',
  'Dark High Contrast': 'hc-black',
  'Light High Contrast': 'hc-light',
};

/** Polls `probe` every 200 ms until it returns a truthy value, and returns that value. */
export async function waitUntil<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A small real run for a view test: ci-tiny through the engine, 96 px, 2 epochs; it must complete. */
export async function trainTinyRun(engine: Engine, out: string, seed: number): Promise<void> {
  const result = await engine.train({
    data: requireShared(CI_TINY), out, backbone: 'mobilenet_v2', weights: requireShared(MOBILENET_NOTOP_MANIFEST),
    imageSize: 96, epochs: 2, batchSize: 4, seed,
  });
  if (result.status !== 'completed') throw new Error(`the tiny training of ${out} ended ${result.status}`);
}

export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * One session shared by the tests of a `describe`: started in `before` (then `onStart` runs, e.g. to wait for the
 * extension), a screenshot after each test, timings logged and everything stopped in `after`, even on failure.
 */
export function useSession(opts: SessionOptions, onStart: (s: CodeServerSession) => Promise<void> | void): void {
  let session: CodeServerSession | undefined;
  before(async () => {
    session = await CodeServerSession.start(opts);
    await onStart(session);
  });
  afterEach(async (t) => {
    await session?.screenshot(`after-${t.name}`).catch(() => undefined);
  });
  after(async () => {
    if (session) {
      process.stderr.write(`[e2e] ${opts.name} timings (ms): ${JSON.stringify(session.timings)}\n`);
      await session.stop();
    }
  });
}
