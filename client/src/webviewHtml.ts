import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import { inlineAsset } from './pageAssets';

export type WebviewEntry = 'dashboard' | 'evaluation' | 'heatmap' | 'trainingForm' | 'compare' | 'results' | 'dataset';

/** Webview options: scripts on, and only the bundle folder, media and any extra folders (e.g. a dataset) readable. */
export function webviewOptions(extensionUri: vscode.Uri, extraRoots: vscode.Uri[] = []): vscode.WebviewOptions {
  return {
    enableScripts: true,
    enableCommandUris: false,
    localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist'), vscode.Uri.joinPath(extensionUri, 'media'), ...extraRoots],
  };
}

/**
 * The page every CXR webview loads: a strict CSP with a fresh nonce per load, the shared stylesheet and one bundled
 * script from dist/webview/, both written into the page under the nonce (pageAssets.ts; linked when they cannot be).
 * The script builds the page itself; no remote content is ever referenced.
 */
function renderWebviewHtml(webview: vscode.Webview, extensionUri: vscode.Uri, entry: WebviewEntry, title: string): string {
  const nonce = randomBytes(16).toString('base64');
  const scriptUri = vscode.Uri.joinPath(extensionUri, 'dist', 'webview', `${entry}.js`);
  const styleUri = vscode.Uri.joinPath(extensionUri, 'media', 'webview.css');
  const scriptText = inlineAsset(scriptUri.fsPath, 'script');
  const styleText = inlineAsset(styleUri.fsPath, 'style');
  const csp = [
    "default-src 'none'",
    `img-src ${webview.cspSource} data:`,
    `style-src ${webview.cspSource} 'nonce-${nonce}'`,
    `font-src ${webview.cspSource}`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
  const style = styleText !== null ? `<style nonce="${nonce}">${styleText}</style>` : `<link rel="stylesheet" nonce="${nonce}" href="${webview.asWebviewUri(styleUri)}">`;
  const script = scriptText !== null ? `<script nonce="${nonce}">${scriptText}</script>` : `<script nonce="${nonce}" src="${webview.asWebviewUri(scriptUri)}"></script>`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
${style}
<title>${escapeHtml(title)}</title>
</head>
<body class="cxr-${entry}" data-view="${entry}">
${script}
</body>
</html>`;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Gives `panel` the page of `entry`: its webview options (scripts, local resource roots) and the strict-CSP html. */
export function setCxrPage(panel: vscode.WebviewPanel, extensionUri: vscode.Uri, entry: WebviewEntry, title: string, options: vscode.WebviewOptions): void {
  panel.webview.options = options;
  panel.webview.html = renderWebviewHtml(panel.webview, extensionUri, entry, title);
}

/** A CXR webview panel: icon, strict-CSP page for `entry`, typed messages in, and `onDispose` when it closes. */
function createCxrPanel<FromWebview>(
  extensionUri: vscode.Uri,
  opts: {
    viewType: string;
    entry: WebviewEntry;
    title: string;
    showOptions: vscode.ViewColumn | { viewColumn: vscode.ViewColumn; preserveFocus?: boolean };
    options: vscode.WebviewOptions;
    onMessage: (message: FromWebview) => void;
    onDispose: () => void;
  },
): vscode.WebviewPanel {
  const panel = vscode.window.createWebviewPanel(opts.viewType, opts.title, opts.showOptions, opts.options);
  return adoptCxrPanel(panel, extensionUri, opts);
}

/** Wires a panel VS Code restored after a window reload (a WebviewPanelSerializer's) exactly as a new one. */
function adoptCxrPanel<FromWebview>(
  panel: vscode.WebviewPanel,
  extensionUri: vscode.Uri,
  opts: { entry: WebviewEntry; title: string; options: vscode.WebviewOptions; onMessage: (message: FromWebview) => void; onDispose: () => void },
): vscode.WebviewPanel {
  panel.title = opts.title;
  panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'cxr.svg');
  setCxrPage(panel, extensionUri, opts.entry, opts.title, opts.options);
  panel.webview.onDidReceiveMessage(opts.onMessage);
  panel.onDidDispose(opts.onDispose);
  return panel;
}

/**
 * The one panel of a view type (the dashboard, the evaluation, Compare Runs...): `show` opens it or reveals the open
 * one, `restore` adopts the one VS Code brings back after a window reload (closing any second one), and it forgets the
 * panel when the user closes it. The webview's `ready` (sent on every load: first open, each reveal, a reload) goes to
 * `onReady`, every other message to `onMessage`.
 */
export class SingleCxrPanel<FromWebview extends { type: string }, ToWebview> implements vscode.Disposable {
  private current: vscode.WebviewPanel | undefined;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly spec: {
      viewType: string;
      entry: WebviewEntry;
      onReady: () => void;
      onMessage: (message: Exclude<FromWebview, { type: 'ready' }>) => void;
      onDispose?: () => void;
    },
  ) {}

  get panel(): vscode.WebviewPanel | undefined {
    return this.current;
  }

  /**
   * Opens the panel (in the active column) and returns true; or, when it is open, retitles it, replaces its options if
   * given, reveals it and returns false.
   */
  show(title: string, opts: { options?: vscode.WebviewOptions; preserveFocus?: boolean } = {}): boolean {
    if (this.current) {
      this.current.title = title;
      if (opts.options) this.current.webview.options = opts.options;
      this.current.reveal(undefined, opts.preserveFocus);
      return false;
    }
    this.current = createCxrPanel<FromWebview>(this.extensionUri, {
      viewType: this.spec.viewType,
      entry: this.spec.entry,
      title,
      showOptions: { viewColumn: vscode.ViewColumn.Active, preserveFocus: opts.preserveFocus },
      options: opts.options ?? webviewOptions(this.extensionUri),
      onMessage: (m) => this.route(m),
      onDispose: () => this.forget(),
    });
    return true;
  }

  /** Adopts a panel restored after a window reload and returns true; disposes it and returns false if one is open. */
  restore(panel: vscode.WebviewPanel, title: string, options: vscode.WebviewOptions = webviewOptions(this.extensionUri)): boolean {
    if (this.current) {
      panel.dispose();
      return false;
    }
    this.current = adoptCxrPanel<FromWebview>(panel, this.extensionUri, {
      entry: this.spec.entry,
      title,
      options,
      onMessage: (m) => this.route(m),
      onDispose: () => this.forget(),
    });
    return true;
  }

  /** Sends a message to the open panel's webview (nothing when closed). */
  async post(message: ToWebview): Promise<void> {
    await this.current?.webview.postMessage(message);
  }

  dispose(): void {
    this.current?.dispose();
  }

  private route(message: FromWebview): void {
    if (message.type === 'ready') this.spec.onReady();
    else this.spec.onMessage(message as Exclude<FromWebview, { type: 'ready' }>);
  }

  private forget(): void {
    this.current = undefined;
    this.spec.onDispose?.();
  }
}
