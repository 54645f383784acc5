import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';

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
 * script from dist/webview/. The script builds the page itself; no remote content is ever referenced.
 */
export function renderWebviewHtml(webview: vscode.Webview, extensionUri: vscode.Uri, entry: WebviewEntry, title: string): string {
  const nonce = randomBytes(16).toString('base64');
  const script = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview', `${entry}.js`));
  const style = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'media', 'webview.css'));
  const csp = [
    "default-src 'none'",
    `img-src ${webview.cspSource} data:`,
    `style-src ${webview.cspSource} 'nonce-${nonce}'`,
    `font-src ${webview.cspSource}`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" nonce="${nonce}" href="${style}">
<title>${escapeHtml(title)}</title>
</head>
<body class="cxr-${entry}" data-view="${entry}">
<script nonce="${nonce}" src="${script}"></script>
</body>
</html>`;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A CXR webview panel: icon, strict-CSP page for `entry`, typed messages in, and `onDispose` when it closes. */
export function createCxrPanel<FromWebview>(
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
export function adoptCxrPanel<FromWebview>(
  panel: vscode.WebviewPanel,
  extensionUri: vscode.Uri,
  opts: { entry: WebviewEntry; title: string; options: vscode.WebviewOptions; onMessage: (message: FromWebview) => void; onDispose: () => void },
): vscode.WebviewPanel {
  panel.title = opts.title;
  panel.webview.options = opts.options;
  panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'cxr.svg');
  panel.webview.html = renderWebviewHtml(panel.webview, extensionUri, opts.entry, opts.title);
  panel.webview.onDidReceiveMessage(opts.onMessage);
  panel.onDidDispose(opts.onDispose);
  return panel;
}
