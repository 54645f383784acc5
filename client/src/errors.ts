import * as path from 'node:path';
import * as vscode from 'vscode';
import { cxrErrorData } from '../../common/src/protocol';
import type { CxrErrorCode } from '../../common/src/protocol';

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export function errorCode(e: unknown): CxrErrorCode | undefined {
  return cxrErrorData(e)?.code;
}

/**
 * Shows a backend failure to the user. The backend's messages already say what to do; for a path outside the
 * allowed roots the user can add its folder to cxr.dataRoots in one click.
 */
export async function showError(what: string, e: unknown, output: vscode.LogOutputChannel, file?: string): Promise<void> {
  const message = `${what}: ${errorMessage(e)}`;
  output.error(message);
  const actions = ['Show Logs'];
  const code = errorCode(e);
  if (code === 'OUTSIDE_ALLOWED_ROOTS' && file) actions.unshift('Add Folder to Data Roots');
  const choice = await vscode.window.showErrorMessage(message, ...actions);
  if (choice === 'Show Logs') output.show(true);
  if (choice === 'Add Folder to Data Roots' && file) {
    const config = vscode.workspace.getConfiguration('cxr');
    const roots = config.get<string[]>('dataRoots') ?? [];
    const folder = path.dirname(file);
    // In Restricted Mode VS Code ignores a workspace's value of this restricted setting: only the user's counts.
    const inWorkspace = vscode.workspace.isTrusted && Boolean(vscode.workspace.workspaceFolders?.length);
    const target = inWorkspace ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
    await config.update('dataRoots', [...roots, folder], target);
    void vscode.window.showInformationMessage(`Added ${folder} to cxr.dataRoots. Try again.`);
  }
}
