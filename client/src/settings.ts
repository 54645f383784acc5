import * as path from 'node:path';
import * as vscode from 'vscode';
import { BACKBONE_IDS, CAM_METHODS, ENGINE_BACKEND_SETTINGS, isOneOf, ORT_PROVIDER_PREFERENCES } from '../../common/src/protocol';
import type { BackboneId, CamMethodName, EngineBackendSetting, OrtProviderPreference } from '../../common/src/protocol';

/** Typed access to the `cxr.*` settings; paths come back absolute. */
export class Settings {
  constructor(private readonly globalStorage: vscode.Uri) {}

  private get config(): vscode.WorkspaceConfiguration {
    return vscode.workspace.getConfiguration('cxr');
  }

  get dataRoots(): string[] {
    return (this.config.get<string[]>('dataRoots') ?? []).filter((r) => typeof r === 'string' && r.trim() !== '').map((r) => this.resolve(r));
  }

  /** `cxr.runsDirectory`, relative to the first workspace folder; without a workspace, the extension's storage. */
  get runsDirectory(): string {
    const configured = (this.config.get<string>('runsDirectory') ?? 'runs').trim() || 'runs';
    if (path.isAbsolute(configured) || firstWorkspaceFolder()) return this.resolve(configured);
    return path.join(this.globalStorage.fsPath, configured);
  }

  /** `cxr.modelsDirectory`, or undefined to let the backend use its default (CXR_MODELS_DIR or ../shared/models). */
  get modelsDirectory(): string | undefined {
    const configured = (this.config.get<string>('modelsDirectory') ?? '').trim();
    if (configured) return this.resolve(configured);
    return process.env.CXR_MODELS_DIR ? path.resolve(process.env.CXR_MODELS_DIR) : undefined;
  }

  /** `cxr.cacheDirectory`, or undefined for the backend's default (CXR_CACHE_DIR, else the user's cache folder). */
  get cacheDirectory(): string | undefined {
    const configured = (this.config.get<string>('cacheDirectory') ?? '').trim();
    return configured ? this.resolve(configured) : undefined;
  }

  get defaultBackbone(): BackboneId {
    const v = this.config.get<string>('defaultBackbone');
    return isOneOf(BACKBONE_IDS, v) ? v : BACKBONE_IDS[0];
  }

  get defaultEpochs(): number {
    const n = this.config.get<number>('defaultEpochs') ?? 20;
    return Number.isInteger(n) && n > 0 ? n : 20;
  }

  get engineBackend(): EngineBackendSetting {
    const v = this.config.get<string>('engineBackend');
    return isOneOf(ENGINE_BACKEND_SETTINGS, v) ? v : 'auto';
  }

  /** `cxr.tfjsNodePath` (restricted: VS Code ignores a workspace's value in Restricted Mode), or undefined. */
  get tfjsNodePath(): string | undefined {
    const v = (this.config.get<string>('tfjsNodePath') ?? '').trim();
    return v ? this.resolve(v) : undefined;
  }

  async setTfjsNodePath(dir: string): Promise<void> {
    await this.config.update('tfjsNodePath', dir, vscode.ConfigurationTarget.Global);
  }

  get onnxExecutionProvider(): OrtProviderPreference {
    const v = this.config.get<string>('onnxExecutionProvider');
    return isOneOf(ORT_PROVIDER_PREFERENCES, v) ? v : 'auto';
  }

  get camMethod(): CamMethodName {
    const v = this.config.get<string>('camMethod');
    return isOneOf(CAM_METHODS, v) ? v : CAM_METHODS[0];
  }

  get heatmapOpacity(): number {
    const v = this.config.get<number>('heatmapOpacity') ?? 0.35;
    return Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : 0.35;
  }

  get activeModel(): string | undefined {
    const v = (this.config.get<string>('activeModel') ?? '').trim();
    return v ? this.resolve(v) : undefined;
  }

  async setActiveModel(runDir: string | undefined): Promise<void> {
    const target = firstWorkspaceFolder() ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
    await this.config.update('activeModel', runDir, target);
  }

  /** Every folder the backend may read or write: workspace folders, data roots, the runs and models directories. */
  allowedRoots(): string[] {
    const roots = [
      ...(vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file').map((f) => f.uri.fsPath),
      ...this.dataRoots,
      this.runsDirectory,
    ];
    const models = this.modelsDirectory;
    if (models) roots.push(models);
    return [...new Set(roots.map((r) => path.resolve(r)))];
  }

  /** Folders to search for datasets: workspace folders and cxr.dataRoots. */
  datasetSearchRoots(): string[] {
    const roots = [...(vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file').map((f) => f.uri.fsPath), ...this.dataRoots];
    return [...new Set(roots.map((r) => path.resolve(r)))];
  }

  private resolve(p: string): string {
    const expanded = p.startsWith('~/') ? path.join(process.env.HOME ?? '', p.slice(2)) : p;
    if (path.isAbsolute(expanded)) return path.normalize(expanded);
    const base = firstWorkspaceFolder();
    return path.resolve(base ?? process.cwd(), expanded);
  }
}

function firstWorkspaceFolder(): string | undefined {
  return vscode.workspace.workspaceFolders?.find((f) => f.uri.scheme === 'file')?.uri.fsPath;
}
