import * as path from 'node:path';
import * as vscode from 'vscode';
import { BACKBONE_DESCRIPTIONS, BACKBONE_IDS, downloadWeights, KERAS_NOTOP_FILES } from '../../common/src/protocol';
import type { BackboneId, BackboneWeightsStatus } from '../../common/src/protocol';
import { userModelsFolder, type Backend } from './backend';
import { showError } from './errors';
import type { StatusBar } from './statusBar';

/**
 * `cxr.getBackboneWeights`: puts a backbone's ImageNet (no-top) weights where training finds them, by locating a
 * Keras .h5 file the user has or by downloading the Keras Applications file (its published md5 checked by the backend).
 */
export class WeightsCommand {
  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly backend: Backend,
    private readonly statusBar: StatusBar,
  ) {}

  async run(arg?: unknown): Promise<void> {
    const status = (await this.statusBar.refresh())?.weights ?? [];
    const backbone = typeof arg === 'string' && (BACKBONE_IDS as readonly string[]).includes(arg) ? (arg as BackboneId) : await pickBackbone(status);
    if (!backbone) return;
    const current = status.find((w) => w.backbone === backbone);
    type Item = vscode.QuickPickItem & { action: 'locate' | 'download' };
    const items: Item[] = [{ label: '$(folder-opened) Locate a weights file…', detail: `A Keras .h5 file such as ${KERAS_NOTOP_FILES[backbone]}`, action: 'locate' }];
    if (current?.downloadable) {
      items.push({ label: '$(cloud-download) Download from Keras Applications', detail: 'storage.googleapis.com, checked against the md5 Keras publishes', action: 'download' });
    }
    const picked = await vscode.window.showQuickPick(items, {
      title: `ImageNet weights for ${BACKBONE_DESCRIPTIONS[backbone].label}`,
      placeHolder: current?.file ? `In use now: ${current.file}` : 'None found: training would start from random weights',
    });
    if (!picked) return;
    const saved = picked.action === 'locate' ? await this.locate(backbone) : await this.download(backbone);
    if (!saved) return;
    await this.statusBar.refresh();
    void vscode.window.showInformationMessage(`ImageNet weights for ${BACKBONE_DESCRIPTIONS[backbone].label} saved to ${saved}; new trainings use them.`);
  }

  private async locate(backbone: BackboneId): Promise<string | undefined> {
    const uris = await vscode.window.showOpenDialog({
      canSelectFiles: true,
      canSelectMany: false,
      filters: { 'Keras weights': ['h5'] },
      title: `Keras ImageNet weights without the top for ${BACKBONE_DESCRIPTIONS[backbone].label}`,
    });
    if (!uris?.[0]) return undefined;
    // Saved under the Keras Applications file name, which the engine looks for (models/registry.ts).
    const target = vscode.Uri.joinPath(userModelsFolder(this.context), KERAS_NOTOP_FILES[backbone]);
    try {
      await vscode.workspace.fs.createDirectory(userModelsFolder(this.context));
      await vscode.workspace.fs.copy(uris[0], target, { overwrite: true });
      return target.fsPath;
    } catch (e) {
      await showError(`Could not copy ${path.basename(uris[0].fsPath)}`, e, this.backend.output);
      return undefined;
    }
  }

  private async download(backbone: BackboneId): Promise<string | undefined> {
    return vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `CXR: downloading ${BACKBONE_DESCRIPTIONS[backbone].label} ImageNet weights`, cancellable: true },
      async (_progress, token) => {
        try {
          return (await this.backend.request(downloadWeights, { backbone }, token)).file;
        } catch (e) {
          if (!token.isCancellationRequested) await showError('Downloading the weights failed', e, this.backend.output);
          return undefined;
        }
      },
    );
  }
}

async function pickBackbone(status: BackboneWeightsStatus[]): Promise<BackboneId | undefined> {
  const picked = await vscode.window.showQuickPick(
    BACKBONE_IDS.map((id) => {
      const file = status.find((w) => w.backbone === id)?.file;
      return { label: BACKBONE_DESCRIPTIONS[id].label, description: file ? `found: ${path.basename(file)}` : 'missing', id };
    }),
    { title: 'Get ImageNet weights for which backbone?' },
  );
  return picked?.id;
}
