import * as path from 'node:path';
import * as vscode from 'vscode';
import { BROWSER_IMAGE_MIME, explain } from '../../common/src/protocol';
import type { CamMethodName } from '../../common/src/protocol';
import { selectHeatmap } from '../../common/src/heatmapView';
import { HeatmapFromWebview, HeatmapModelInfo, HeatmapState, HeatmapToWebview } from '../../common/src/webviewProtocol';
import type { Backend } from './backend';
import { errorMessage } from './errors';
import { isWithin } from './paths';
import type { Runs } from './runs';
import type { Settings } from './settings';
import { setCxrPage, webviewOptions } from './webviewHtml';

export const HEATMAP_VIEW_TYPE = 'cxr.heatmap';
export const HEATMAP_PANEL_TYPE = 'cxr.heatmapPanel';
/** Images larger than this are shown as the backend's model-resolution rendering instead of their own bytes. */
const MAX_INLINE_IMAGE_BYTES = 25 * 1024 * 1024;

/** Opened from an evaluation: the run that was evaluated (instead of the active model) and the image's true label. */
export interface HeatmapContext {
  runDir?: string;
  trueLabel?: string;
}

/**
 * The read-only heatmap viewer for images (priority "option": opened with "CXR: Show Heatmap" or Open With).
 * The image travels to the webview as a data: URL so the canvas stays exportable; the heatmap grid travels as
 * numbers and is coloured in the webview, so the opacity slider needs no round trip.
 *
 * "Show Heatmap" reuses the open heatmap panel, as Markdown's preview does: a new webview costs VS Code 0.3-3 s to
 * create before its script runs, a reused one shows the next image in the time of one explain request. Locking a
 * panel keeps its image; the next "Show Heatmap" then opens a new panel, so heatmaps can stand side by side.
 */
export class HeatmapEditorProvider implements vscode.CustomReadonlyEditorProvider<vscode.CustomDocument> {
  /** The unlocked panel "Show Heatmap" shows its next image in, if one is open. */
  private reusable: HeatmapSession | undefined;
  /** The "Show Heatmap" panels (not Open With's editors, which belong to their document). */
  private readonly panels = new Set<HeatmapSession>();

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly backend: Backend,
    private readonly settings: Settings,
    private readonly runs: Runs,
    private readonly datasetSplitOf: (file: string) => string | undefined,
  ) {}

  static register(context: vscode.ExtensionContext, provider: HeatmapEditorProvider): vscode.Disposable {
    return vscode.window.registerCustomEditorProvider(HEATMAP_VIEW_TYPE, provider, { supportsMultipleEditorsPerDocument: true });
  }

  openCustomDocument(uri: vscode.Uri): vscode.CustomDocument {
    return { uri, dispose: () => undefined };
  }

  resolveCustomEditor(document: vscode.CustomDocument, panel: vscode.WebviewPanel): void {
    this.attach(document.uri, panel);
  }

  /**
   * "Show Heatmap": one image goes to the reusable panel (created when none is open); several images open one locked
   * panel each. The panels are titled "Heatmap: <file>": VS Code titles a custom editor's tab with the file name alone,
   * the same as the image preview's, so the commands open these panels; Open With still offers the editor.
   */
  show(uris: vscode.Uri[], context?: HeatmapContext): void {
    if (uris.length === 1) this.showInReusablePanel(uris[0], context);
    else for (const uri of uris) this.setLocked(this.openPanel(uri, context), true);
  }

  /** Locks or unlocks the active heatmap panel; unlocking makes it the reusable one and locks the panel that was. */
  setActiveLocked(locked: boolean): void {
    const active = [...this.panels].find((p) => p.isActivePanel);
    if (!active || active.locked === locked) return;
    if (locked && this.reusable === active) this.reusable = undefined;
    if (!locked) {
      if (this.reusable) this.setLocked(this.reusable, true);
      this.reusable = active;
    }
    this.setLocked(active, locked);
  }

  /**
   * A heatmap panel VS Code brings back after a window reload (its serializer's): the same image, run, method, opacity
   * and lock. The image is read again only inside the workspace, the data roots or the runs folder, as the backend
   * would; otherwise, or when the saved state is not a viewer's, the panel closes.
   */
  restore(panel: vscode.WebviewPanel, saved: unknown): void {
    const s = (typeof saved === 'object' && saved !== null ? saved : {}) as Partial<HeatmapState>;
    const file = typeof s.file === 'string' ? s.file : undefined;
    if (!file || !this.settings.allowedRoots().some((root) => isWithin(file, root))) {
      if (file) this.backend.output.warn('A heatmap panel was not restored: its image lies outside the workspace, the data roots and the runs folder.');
      panel.dispose();
      return;
    }
    const context: HeatmapContext = {
      runDir: typeof s.pinnedRun === 'string' ? s.pinnedRun : undefined,
      trueLabel: typeof s.trueLabel === 'string' ? s.trueLabel : undefined,
    };
    const view = {
      method: s.method === 'cam' || s.method === 'gradcam' ? s.method : this.settings.camMethod,
      opacity: typeof s.opacity === 'number' && s.opacity >= 0 && s.opacity <= 1 ? s.opacity : this.settings.heatmapOpacity,
    };
    const session = this.attach(vscode.Uri.file(file), panel, context, true, view);
    // At most one panel is reused: an unlocked one that comes back while another panel is the reused one is locked.
    if (s.locked === true || this.reusable) this.setLocked(session, true);
    else this.reusable = session;
  }

  private setLocked(session: HeatmapSession, locked: boolean): void {
    session.setLocked(locked);
    if (session.isActivePanel) showLockState(session);
  }

  private showInReusablePanel(uri: vscode.Uri, context?: HeatmapContext): void {
    if (this.reusable) {
      this.reusable.showImage(uri, context);
      return;
    }
    this.reusable = this.openPanel(uri, context);
  }

  private openPanel(uri: vscode.Uri, context?: HeatmapContext): HeatmapSession {
    // Kept alive while hidden: revealing a heatmap behind another tab then shows it at once instead of rebuilding it.
    const panel = vscode.window.createWebviewPanel(HEATMAP_PANEL_TYPE, heatmapTitle(uri, false), vscode.ViewColumn.Active, {
      ...webviewOptions(this.extensionUri),
      retainContextWhenHidden: true,
    });
    return this.attach(uri, panel, context, true);
  }

  private attach(uri: vscode.Uri, panel: vscode.WebviewPanel, context?: HeatmapContext, lockable = false, view?: HeatmapViewChoice): HeatmapSession {
    setCxrPage(panel, this.extensionUri, 'heatmap', heatmapTitle(uri, false), webviewOptions(this.extensionUri));
    const session = new HeatmapSession(uri, panel, this.backend, this.settings, this.runs, this.datasetSplitOf, context, view);
    if (!lockable) return session;
    panel.iconPath = vscode.Uri.joinPath(this.extensionUri, 'media', 'cxr.svg');
    this.panels.add(session);
    panel.onDidChangeViewState((e) => (e.webviewPanel.active ? showLockState(session) : undefined));
    if (panel.active) showLockState(session);
    panel.onDidDispose(() => {
      this.panels.delete(session);
      if (this.reusable === session) this.reusable = undefined;
    });
    return session;
  }
}

/** Sets the context key that says whether the active heatmap panel is locked: the editor title shows Lock or Unlock. */
function showLockState(active: HeatmapSession): void {
  void vscode.commands.executeCommand('setContext', 'cxr.heatmapLocked', active.locked);
}

/** What the user chose in a viewer and keeps when it shows another image (or comes back after a reload). */
interface HeatmapViewChoice {
  method: CamMethodName;
  opacity: number;
}

function initialState(uri: vscode.Uri, context: HeatmapContext, { method, opacity }: HeatmapViewChoice, locked: boolean): HeatmapState {
  return {
    file: uri.fsPath,
    fileName: path.basename(uri.fsPath),
    imageSrc: null,
    model: null,
    method,
    target: null,
    opacity,
    loading: true,
    result: null,
    error: null,
    backendExplains: 0,
    trueLabel: context.trueLabel ?? null,
    pinnedRun: context.runDir ?? null,
    locked,
  };
}

function heatmapTitle(uri: vscode.Uri, locked: boolean): string {
  return `Heatmap: ${path.basename(uri.fsPath)}${locked ? ' (locked)' : ''}`;
}

class HeatmapSession {
  private state: HeatmapState;
  private requestSeq = 0;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private uri: vscode.Uri,
    private readonly panel: vscode.WebviewPanel,
    private readonly backend: Backend,
    private readonly settings: Settings,
    private readonly runs: Runs,
    private readonly datasetSplitOf: (file: string) => string | undefined,
    private context: HeatmapContext = {},
    view: HeatmapViewChoice = { method: settings.camMethod, opacity: settings.heatmapOpacity },
  ) {
    this.state = initialState(uri, context, view, false);
    this.disposables.push(
      panel.webview.onDidReceiveMessage((m: HeatmapFromWebview) => void this.onMessage(m)),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('cxr.activeModel')) void this.loadModelAndExplain();
      }),
    );
    panel.onDidDispose(() => this.disposables.forEach((d) => d.dispose()));
    void this.init();
  }

  get isActivePanel(): boolean {
    return this.panel.active;
  }

  get locked(): boolean {
    return this.state.locked === true;
  }

  /** Retitles the panel and tells the webview, which saves the lock with its state for a reload. */
  setLocked(locked: boolean): void {
    this.state.locked = locked;
    this.panel.title = heatmapTitle(this.uri, locked);
    void this.post();
  }

  /**
   * Shows another image in this panel, keeping the method and opacity the user chose here. A reply still on its way
   * for the previous image is dropped.
   */
  showImage(uri: vscode.Uri, context: HeatmapContext = {}): void {
    const same = uri.fsPath === this.uri.fsPath && context.runDir === this.context.runDir && context.trueLabel === this.context.trueLabel;
    if (same && !this.state.error) {
      this.panel.reveal(undefined, false);
      return;
    }
    this.uri = uri;
    this.context = context;
    this.requestSeq++;
    this.state = initialState(uri, context, this.state, this.locked);
    this.panel.title = heatmapTitle(uri, this.locked);
    this.panel.reveal(undefined, false);
    void this.post();
    void this.init();
  }

  private async init(): Promise<void> {
    // Reading the image and asking for the run's classes overlap: the explain request waits for both.
    const state = this.state;
    const [imageSrc, model] = await Promise.all([this.inlineImage(state), this.modelInfo(state)]);
    if (state !== this.state) return; // the panel moved on to another image meanwhile
    state.imageSrc = imageSrc;
    await this.loadModelAndExplain(model);
  }

  private async inlineImage(state: HeatmapState): Promise<string | null> {
    const uri = this.uri;
    const mime = BROWSER_IMAGE_MIME[path.extname(uri.fsPath).toLowerCase()];
    if (!mime) return null; // DICOM: shown from the backend's rendering
    try {
      const stat = await vscode.workspace.fs.stat(uri);
      if (stat.size > MAX_INLINE_IMAGE_BYTES) return null;
      const bytes = await vscode.workspace.fs.readFile(uri);
      return `data:${mime};base64,${Buffer.from(bytes).toString('base64')}`;
    } catch (e) {
      state.error = `Cannot read ${state.fileName}: ${errorMessage(e)}`;
      return null;
    }
  }

  private async loadModelAndExplain(known?: HeatmapModelInfo | null): Promise<void> {
    this.state.model = known !== undefined ? known : await this.modelInfo();
    this.state.result = null;
    if (!this.state.model) {
      this.state.loading = false;
      void this.post();
      return;
    }
    await this.explain(this.state.method, this.state.target);
  }

  private async modelInfo(state = this.state): Promise<HeatmapModelInfo | null> {
    const runDir = this.context.runDir ?? this.settings.activeModel;
    if (!runDir) return null;
    try {
      const { config } = await this.runs.details(runDir);
      return { runDir, name: path.basename(runDir), classes: config.classes };
    } catch (e) {
      state.error = `The active model ${runDir} cannot be read (${errorMessage(e)}). Pick another run.`;
      return null;
    }
  }

  private async explain(method: CamMethodName, target: string | null): Promise<void> {
    const model = this.state.model;
    if (!model) return;
    const seq = ++this.requestSeq;
    Object.assign(this.state, { method, target, loading: true, error: null });
    void this.post();
    // Without a browser-readable original, ask for the model-resolution image itself (alpha 0 = no overlay).
    const needBase = this.state.imageSrc === null;
    try {
      this.state.backendExplains++;
      const result = await this.backend.request(explain, {
        run: model.runDir,
        image: this.uri.fsPath,
        method,
        className: target ?? undefined,
        ...(needBase ? { includePng: true, alpha: 0 } : {}),
      });
      if (seq !== this.requestSeq) return;
      if (needBase && result.overlayPngBase64) this.state.imageSrc = `data:image/png;base64,${result.overlayPngBase64}`;
      this.state.result = { ...result, overlayPngBase64: undefined };
      this.state.error = null;
    } catch (e) {
      if (seq !== this.requestSeq) return;
      this.state.result = null;
      this.state.error = errorMessage(e);
      this.backend.output.error(`Heatmap for ${this.state.fileName} failed: ${this.state.error}`);
    }
    this.state.loading = false;
    void this.post();
  }

  private async onMessage(message: HeatmapFromWebview): Promise<void> {
    switch (message.type) {
      case 'ready':
        await this.post();
        break;
      case 'explain':
        await this.explain(message.method, message.target);
        break;
      case 'select': {
        const selected = this.state.result && selectHeatmap(this.state.result, message.method, message.target);
        if (selected) Object.assign(this.state, { method: message.method, target: message.target, result: selected });
        else await this.explain(message.method, message.target);
        break;
      }
      case 'opacity':
        this.state.opacity = Math.min(1, Math.max(0, message.opacity));
        break;
      case 'pickModel':
        this.context = { ...this.context, runDir: undefined }; // the picked run replaces the evaluated one
        await this.runs.setActive(undefined); // the configuration change re-explains
        break;
      case 'export':
        await this.export(message.opacity);
        break;
    }
  }

  /**
   * Export PNG: the backend renders the overlay (the same bytes `cxr cam` writes) and the extension saves it. The
   * default place is the model's run folder (`exports/`), never next to the image: saving into a dataset split would
   * add an image to it. A place inside a dataset split is refused.
   */
  private async export(opacity: number): Promise<void> {
    const model = this.state.model;
    let saved: string | null = null;
    if (model) {
      const stem = path.parse(this.uri.fsPath).name;
      const method = this.state.result?.method ?? this.state.method;
      const target = this.state.result?.target ?? this.state.target ?? 'predicted';
      const defaultUri = vscode.Uri.file(path.join(model.runDir, 'exports', `${stem}-${method}-${target.replace(/[^\w-]+/g, '_')}.png`));
      // The folder must exist for the dialog to propose it (otherwise it falls back to the nearest existing folder).
      await vscode.workspace.fs.createDirectory(vscode.Uri.file(path.dirname(defaultUri.fsPath))).then(undefined, () => undefined);
      const uri = await vscode.window.showSaveDialog({ defaultUri, filters: { 'PNG image': ['png'] }, title: 'Export heatmap overlay' });
      const split = uri && this.datasetSplitOf(uri.fsPath);
      if (uri && split) {
        void vscode.window.showErrorMessage(`Not saved: ${uri.fsPath} is inside the dataset split ${split}, where it would become a training or test image. Choose another folder.`);
      } else if (uri) {
        try {
          this.state.backendExplains++;
          const rendered = await this.backend.request(explain, {
            run: model.runDir,
            image: this.uri.fsPath,
            method,
            className: this.state.result?.target ?? this.state.target ?? undefined,
            alpha: Math.min(1, Math.max(0, opacity)),
            includePng: true,
            overlayAtImageSize: true,
          });
          await vscode.workspace.fs.createDirectory(vscode.Uri.file(path.dirname(uri.fsPath)));
          await vscode.workspace.fs.writeFile(uri, Buffer.from(rendered.overlayPngBase64 ?? '', 'base64'));
          saved = uri.fsPath;
          void vscode.window.showInformationMessage(`Saved heatmap overlay to ${saved}`);
        } catch (e) {
          void vscode.window.showErrorMessage(`Could not save ${uri.fsPath}: ${errorMessage(e)}`);
        }
      }
    }
    const reply: HeatmapToWebview = { type: 'exported', path: saved };
    await this.panel.webview.postMessage(reply);
  }

  private async post(): Promise<void> {
    const message: HeatmapToWebview = { type: 'state', state: this.state };
    try {
      await this.panel.webview.postMessage(message);
    } catch {
      // the panel was closed meanwhile
    }
  }
}
