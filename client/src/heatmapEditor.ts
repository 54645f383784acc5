import * as path from 'node:path';
import * as vscode from 'vscode';
import { BROWSER_IMAGE_MIME, explain } from '../../common/src/protocol';
import type { CamMethodName } from '../../common/src/protocol';
import { selectHeatmap } from '../../common/src/heatmapView';
import { HeatmapFromWebview, HeatmapModelInfo, HeatmapState, HeatmapToWebview } from '../../common/src/webviewProtocol';
import type { Backend } from './backend';
import { errorMessage } from './errors';
import type { Runs } from './runs';
import type { Settings } from './settings';
import { setCxrPage, webviewOptions } from './webviewHtml';

export const HEATMAP_VIEW_TYPE = 'cxr.heatmap';
const HEATMAP_PANEL_TYPE = 'cxr.heatmapPanel';
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
 */
export class HeatmapEditorProvider implements vscode.CustomReadonlyEditorProvider<vscode.CustomDocument> {
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
   * "Show Heatmap": the viewer in a panel titled "Heatmap: <file>". VS Code titles a custom editor's tab with the file
   * name alone, the same as the image preview's, so the commands open this panel; Open With still offers the editor.
   */
  openPanel(uri: vscode.Uri, context?: HeatmapContext): void {
    const title = `Heatmap: ${path.basename(uri.fsPath)}`;
    const panel = vscode.window.createWebviewPanel(HEATMAP_PANEL_TYPE, title, vscode.ViewColumn.Active, webviewOptions(this.extensionUri));
    panel.iconPath = vscode.Uri.joinPath(this.extensionUri, 'media', 'cxr.svg');
    this.attach(uri, panel, context);
  }

  private attach(uri: vscode.Uri, panel: vscode.WebviewPanel, context?: HeatmapContext): void {
    setCxrPage(panel, this.extensionUri, 'heatmap', `Heatmap: ${path.basename(uri.fsPath)}`, webviewOptions(this.extensionUri));
    new HeatmapSession(uri, panel, this.backend, this.settings, this.runs, this.datasetSplitOf, context);
  }
}

class HeatmapSession {
  private state: HeatmapState;
  private requestSeq = 0;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly uri: vscode.Uri,
    private readonly panel: vscode.WebviewPanel,
    private readonly backend: Backend,
    private readonly settings: Settings,
    private readonly runs: Runs,
    private readonly datasetSplitOf: (file: string) => string | undefined,
    private context: HeatmapContext = {},
  ) {
    this.state = {
      file: uri.fsPath,
      fileName: path.basename(uri.fsPath),
      imageSrc: null,
      model: null,
      method: settings.camMethod,
      target: null,
      opacity: settings.heatmapOpacity,
      loading: true,
      result: null,
      error: null,
      backendExplains: 0,
      trueLabel: context.trueLabel ?? null,
    };
    this.disposables.push(
      panel.webview.onDidReceiveMessage((m: HeatmapFromWebview) => void this.onMessage(m)),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('cxr.activeModel')) void this.loadModelAndExplain();
      }),
    );
    panel.onDidDispose(() => this.disposables.forEach((d) => d.dispose()));
    void this.init();
  }

  private async init(): Promise<void> {
    // Reading the image and asking for the run's classes overlap: the explain request waits for both.
    const [imageSrc, model] = await Promise.all([this.inlineImage(), this.modelInfo()]);
    this.state.imageSrc = imageSrc;
    await this.loadModelAndExplain(model);
  }

  private async inlineImage(): Promise<string | null> {
    const mime = BROWSER_IMAGE_MIME[path.extname(this.uri.fsPath).toLowerCase()];
    if (!mime) return null; // DICOM: shown from the backend's rendering
    try {
      const stat = await vscode.workspace.fs.stat(this.uri);
      if (stat.size > MAX_INLINE_IMAGE_BYTES) return null;
      const bytes = await vscode.workspace.fs.readFile(this.uri);
      return `data:${mime};base64,${Buffer.from(bytes).toString('base64')}`;
    } catch (e) {
      this.state.error = `Cannot read ${this.state.fileName}: ${errorMessage(e)}`;
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

  private async modelInfo(): Promise<HeatmapModelInfo | null> {
    const runDir = this.context.runDir ?? this.settings.activeModel;
    if (!runDir) return null;
    try {
      const { config } = await this.runs.details(runDir);
      return { runDir, name: path.basename(runDir), classes: config.classes };
    } catch (e) {
      this.state.error = `The active model ${runDir} cannot be read (${errorMessage(e)}). Pick another run.`;
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
