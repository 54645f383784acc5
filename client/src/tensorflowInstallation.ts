import * as vscode from 'vscode';
import type { BackendStatus } from '../../common/src/protocol';
import type { Backend } from './backend';
import { describeDevice } from './device';
import type { Settings } from './settings';
import type { StatusBar } from './statusBar';

const RESTART_WAIT_MS = 120_000;

/**
 * "CXR: Use a TensorFlow Installation...": the user picks the folder holding their @tensorflow/tfjs-node-gpu or
 * tfjs-node; it goes into cxr.tfjsNodePath (user settings), the settings listener restarts the backend, and the
 * result is reported: the device that now trains, or why the installation was not used (not found, wrong version).
 */
export async function useTensorflowInstallation(b: Backend, settings: Settings, statusBar: StatusBar, output: vscode.LogOutputChannel): Promise<void> {
  const current = settings.tfjsNodePath;
  const picked = await vscode.window.showOpenDialog({
    canSelectFiles: false,
    canSelectFolders: true,
    canSelectMany: false,
    defaultUri: current ? vscode.Uri.file(current) : undefined,
    openLabel: 'Use This TensorFlow Installation',
    title: 'Folder holding @tensorflow/tfjs-node-gpu or @tensorflow/tfjs-node 4.22 (where you ran npm install)',
  });
  const dir = picked?.[0]?.fsPath;
  if (!dir) return;
  const restarted = waitForRestart(b);
  await settings.setTfjsNodePath(dir);
  output.info(`cxr.tfjsNodePath set to ${dir}`);
  if (!(await restarted)) return; // a training is running: the setting applies when it ends (the listener said so)
  const status = await statusBar.refresh();
  if (status) await report(status, dir, output);
}

async function report(status: BackendStatus, dir: string, output: vscode.LogOutputChannel): Promise<void> {
  const { backend } = status;
  if (backend.name === 'tensorflow') {
    void vscode.window.showInformationMessage(`CXR Studio now trains with TensorFlow from ${dir} on ${describeDevice(backend.device)}.`);
    return;
  }
  const why = backend.candidates.find((c) => c.name === 'tensorflow')?.why ?? 'see the logs';
  output.warn(`TensorFlow from ${dir} is not used: ${why}`);
  const choice = await vscode.window.showWarningMessage(
    `CXR Studio could not use TensorFlow from ${dir}: ${why}. Training stays on ${backend.name} (${describeDevice(backend.device)}).`,
    'Show Logs',
  );
  if (choice === 'Show Logs') output.show(true);
}

/** Resolves true once the backend has gone through a restart back to running, false if none starts soon. */
function waitForRestart(b: Backend): Promise<boolean> {
  return new Promise((resolve) => {
    let sawStart = false;
    const finish = (value: boolean): void => {
      clearTimeout(noStart);
      clearTimeout(giveUp);
      sub.dispose();
      resolve(value);
    };
    const sub = b.onDidChangeState((s) => {
      if (s === 'starting') sawStart = true;
      if (s === 'running' && sawStart) finish(true);
    });
    const noStart = setTimeout(() => {
      if (!sawStart) finish(false);
    }, 10_000);
    const giveUp = setTimeout(() => finish(false), RESTART_WAIT_MS);
  });
}
