import * as vscode from 'vscode';
import {
  CloseAction,
  ErrorAction,
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
  State,
  TransportKind,
} from 'vscode-languageclient/node';
import type { CancellationToken, ProgressType, RequestType, RequestType0 } from 'vscode-languageclient/node';
import {
  CxrErrorData,
  InitializationOptions,
  setAllowedRoots,
  setTrust,
  trainEvent,
  TrainEventParams,
} from '../../common/src/protocol';
import { hugePagesEnv } from '../../server/src/launch/hugePages';
import type { Settings } from './settings';

export type BackendState = 'starting' | 'running' | 'stopped';

/** Crashes tolerated within CRASH_WINDOW_MS before the backend is left stopped. */
const MAX_CRASHES = 4;
const CRASH_WINDOW_MS = 3 * 60_000;

/**
 * The backend process (dist/server.js) behind a vscode-languageclient connection over IPC: started on activation,
 * restarted after a crash (the user is told), and kept informed of the allowed roots and workspace trust.
 */
export class Backend implements vscode.Disposable {
  private client: LanguageClient;
  private readonly crashes: number[] = [];
  private readonly disposables: vscode.Disposable[] = [];
  private readonly stateEmitter = new vscode.EventEmitter<BackendState>();
  private readonly trainEventEmitter = new vscode.EventEmitter<TrainEventParams>();
  private readonly crashEmitter = new vscode.EventEmitter<void>();
  /** Fires with every backend state change (a restart goes stopped -> starting -> running). */
  readonly onDidChangeState = this.stateEmitter.event;
  readonly onTrainEvent = this.trainEventEmitter.event;
  /** Fires when the process died unexpectedly (requests in flight, such as a training, have failed). */
  readonly onDidCrash = this.crashEmitter.event;
  state: BackendState = 'stopped';
  private starting: Promise<void> | undefined;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly settings: Settings,
    readonly output: vscode.LogOutputChannel,
  ) {
    this.client = this.createClient();
    this.disposables.push(
      vscode.workspace.onDidGrantWorkspaceTrust(() => void this.syncTrust()),
      vscode.workspace.onDidChangeWorkspaceFolders(() => void this.syncRoots()),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (['cxr.dataRoots', 'cxr.runsDirectory', 'cxr.modelsDirectory'].some((s) => e.affectsConfiguration(s))) void this.syncRoots();
      }),
    );
  }

  private createClient(): LanguageClient {
    const serverModule = this.context.asAbsolutePath('dist/server.js');
    const env: NodeJS.ProcessEnv = { ...process.env };
    const models = this.settings.modelsDirectory;
    if (models) env.CXR_MODELS_DIR = models;
    // Read by the engine in the backend and in every training worker (engine/backend/tensorflowNode.ts, ortProviders.ts).
    const tfjsNode = this.settings.tfjsNodePath;
    if (tfjsNode) env.CXR_TFJS_NODE = tfjsNode;
    env.CXR_ORT_PROVIDER = this.settings.onnxExecutionProvider;
    // "CXR: Get Backbone Weights" saves located or downloaded weights here; the engine searches it (locations.ts).
    env.CXR_USER_MODELS_DIR = userModelsFolder(this.context).fsPath;
    const cache = this.settings.cacheDirectory;
    if (cache) env.CXR_CACHE_DIR = cache;
    // Huge pages for malloc's large blocks where the system offers them (server/src/launch/hugePages.ts).
    Object.assign(env, hugePagesEnv(env));
    const serverOptions: ServerOptions = {
      run: { module: serverModule, transport: TransportKind.ipc, options: { env } },
      debug: { module: serverModule, transport: TransportKind.ipc, options: { env, execArgv: ['--nolazy', '--inspect=6019'] } },
    };
    const clientOptions: LanguageClientOptions = {
      // The backend works on files named in requests, never on open documents.
      documentSelector: [],
      outputChannel: this.output,
      initializationOptions: (): InitializationOptions => ({
        allowedRoots: this.settings.allowedRoots(),
        trusted: vscode.workspace.isTrusted,
        engineBackend: this.settings.engineBackend,
      }),
      errorHandler: {
        error: (_error, _message, count) => ({ action: (count ?? 0) <= 3 ? ErrorAction.Continue : ErrorAction.Shutdown, handled: true }),
        closed: () => this.onClosed(),
      },
    };
    const client = new LanguageClient('cxrStudio', 'CXR Studio', serverOptions, clientOptions);
    client.onDidChangeState((e) => {
      const state: BackendState = e.newState === State.Running ? 'running' : e.newState === State.Starting ? 'starting' : 'stopped';
      this.state = state;
      this.stateEmitter.fire(state);
    });
    client.onNotification(trainEvent, (params) => this.trainEventEmitter.fire(params));
    return client;
  }

  private onClosed(): { action: CloseAction; handled: boolean } {
    const now = Date.now();
    while (this.crashes.length > 0 && now - this.crashes[0] > CRASH_WINDOW_MS) this.crashes.shift();
    this.crashes.push(now);
    this.crashEmitter.fire();
    if (this.crashes.length <= MAX_CRASHES) {
      this.output.warn(`Backend process stopped unexpectedly; restarting (${this.crashes.length} in the last 3 minutes).`);
      void this.notify('warning', 'CXR Studio: the backend process stopped unexpectedly and is being restarted.');
      return { action: CloseAction.Restart, handled: true };
    }
    this.output.error('Backend process keeps crashing; not restarting it.');
    void this.notify('error', `CXR Studio: the backend crashed ${this.crashes.length} times in 3 minutes and was not restarted. Check the logs, then run "CXR: Show Backend Status" to start it again.`);
    return { action: CloseAction.DoNotRestart, handled: true };
  }

  private async notify(level: 'warning' | 'error', message: string): Promise<void> {
    const show = level === 'warning' ? vscode.window.showWarningMessage : vscode.window.showErrorMessage;
    if ((await show(message, 'Show Logs')) === 'Show Logs') this.output.show(true);
  }

  /** Starts the process; requests sent meanwhile wait for it. */
  start(): Promise<void> {
    this.output.info(`Starting backend ${this.context.asAbsolutePath('dist/server.js')}`);
    this.starting = this.client.start();
    return this.starting;
  }

  /** Starts the backend if it is stopped (e.g. after repeated crashes); no-op while it runs. */
  async ensureStarted(): Promise<void> {
    if (this.client.isRunning()) return;
    this.crashes.length = 0;
    await this.start();
  }

  /** Stops and starts a fresh process, e.g. after cxr.engineBackend or cxr.modelsDirectory changed. */
  async restart(): Promise<void> {
    this.output.info('Restarting backend');
    if (this.client.needsStop()) await this.client.stop();
    await this.client.dispose().catch(() => undefined);
    this.client = this.createClient();
    this.crashes.length = 0;
    await this.start();
  }

  async request<R>(type: RequestType0<R, CxrErrorData>, token?: CancellationToken): Promise<R>;
  async request<P, R>(type: RequestType<P, R, CxrErrorData>, params: P, token?: CancellationToken): Promise<R>;
  async request(type: RequestType0<unknown, CxrErrorData> | RequestType<unknown, unknown, CxrErrorData>, params?: unknown, token?: CancellationToken): Promise<unknown> {
    await this.ready();
    if (type.numberOfParams === 0) return this.client.sendRequest(type as RequestType0<unknown, CxrErrorData>, params as CancellationToken | undefined);
    return this.client.sendRequest(type as RequestType<unknown, unknown, CxrErrorData>, params, token);
  }

  /** Subscribes to `$/progress` for a token of a request this client sends (e.g. cxr/train's workDoneToken). */
  onProgress<P>(type: ProgressType<P>, token: string, handler: (value: P) => void): vscode.Disposable {
    return this.client.onProgress(type, token, handler);
  }

  private async ready(): Promise<void> {
    if (this.client.isRunning()) return;
    if (this.starting) {
      try {
        await this.starting;
      } catch (e) {
        throw new Error(`The CXR Studio backend failed to start (${e instanceof Error ? e.message : String(e)}). Run "CXR: Show Logs" for details.`);
      }
      if (this.client.isRunning()) return;
    }
    if (this.state === 'starting') {
      await new Promise<void>((resolve, reject) => {
        const sub = this.onDidChangeState((s) => {
          if (s === 'starting') return;
          sub.dispose();
          if (s === 'running') resolve();
          else reject(new Error('The CXR Studio backend failed to start. Run "CXR: Show Logs" for details.'));
        });
      });
      return;
    }
    throw new Error('The CXR Studio backend is not running. Run "CXR: Show Backend Status" to start it, or "CXR: Show Logs" to see why it stopped.');
  }

  async syncRoots(): Promise<void> {
    if (!this.client.isRunning()) return; // initializationOptions carries them on the next start
    try {
      const result = await this.client.sendRequest(setAllowedRoots, { roots: this.settings.allowedRoots() });
      this.output.info(`Allowed roots: ${result.roots.join(', ')}`);
    } catch (e) {
      this.output.error(`Could not update the allowed roots: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  async syncTrust(): Promise<void> {
    if (!this.client.isRunning()) return;
    try {
      await this.client.sendRequest(setTrust, { trusted: vscode.workspace.isTrusted });
    } catch (e) {
      this.output.error(`Could not update workspace trust: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
    this.stateEmitter.dispose();
    this.trainEventEmitter.dispose();
    this.crashEmitter.dispose();
  }

  /** Stops the process; called from deactivate. */
  async stop(): Promise<void> {
    if (this.client.needsStop()) await this.client.stop();
  }
}

/** The folder for weights the user located or downloaded: the extension's global storage, shared by all workspaces. */
export function userModelsFolder(context: vscode.ExtensionContext): vscode.Uri {
  return vscode.Uri.joinPath(context.globalStorageUri, 'models');
}
