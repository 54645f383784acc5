import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import {
  createMessageConnection,
  StreamMessageReader,
  StreamMessageWriter,
  type MessageConnection,
  type ProgressToken,
} from 'vscode-jsonrpc/node';
import * as protocol from '../../common/src/protocol';
import { repoRoot } from '../../server/src/engine/locations';

export interface BackendOptions {
  roots?: string[];
  /** Sent as initializationOptions.trusted (default true); 'omit' leaves the field out, as an older client would. */
  trusted?: boolean | 'omit';
  /** Advertise window.workDoneProgress so the server may create its own progress tokens. */
  workDoneProgress?: boolean;
  /** Run this bundled server (e.g. dist/server.js) with plain node instead of the TypeScript sources under tsx. */
  serverModule?: string;
  /** Extra environment for the process (the extension passes settings such as cxr.tfjsNodePath this way). */
  env?: NodeJS.ProcessEnv;
}

/**
 * The real backend process (server/src/lsp/main.ts under tsx, `--stdio`), driven over JSON-RPC exactly as the
 * extension drives it, with everything it sends recorded for assertions.
 */
export class BackendProcess {
  readonly logs: string[] = [];
  readonly trainEvents: protocol.TrainEventParams[] = [];
  readonly progress = new Map<ProgressToken, protocol.WorkDoneProgressValue[]>();
  readonly createdProgressTokens: ProgressToken[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private exitedFlag = false;
  private readonly eventListeners = new Set<(p: protocol.TrainEventParams) => void>();
  private stderr = '';

  private constructor(
    readonly proc: ChildProcess,
    readonly conn: MessageConnection,
  ) {
    this.exited = new Promise((resolve) => proc.once('exit', (code, signal) => {
      this.exitedFlag = true;
      resolve({ code, signal });
    }));
    proc.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    conn.onNotification('window/logMessage', (p: { message: string }) => {
      this.logs.push(p.message);
    });
    // vscode-jsonrpc keeps one handler per method, so waiters subscribe here rather than on the connection.
    conn.onNotification(protocol.trainEvent, (p) => {
      this.trainEvents.push(p);
      for (const listener of [...this.eventListeners]) listener(p);
    });
    conn.onRequest('window/workDoneProgress/create', (p: { token: ProgressToken }) => {
      this.createdProgressTokens.push(p.token);
      this.watchProgress(p.token);
      return null;
    });
    conn.onError(() => undefined);
    conn.listen();
  }

  static async start(opts: BackendOptions = {}): Promise<BackendProcess> {
    const root = repoRoot();
    const args = opts.serverModule != null ? [opts.serverModule, '--stdio'] : ['--import', 'tsx', path.join(root, 'server', 'src', 'lsp', 'main.ts'), '--stdio'];
    const proc = spawn(process.execPath, args, {
      cwd: root,
      env: { ...process.env, CXR_LSP_TEST_HOOKS: '1', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const conn = createMessageConnection(new StreamMessageReader(proc.stdout!), new StreamMessageWriter(proc.stdin!));
    const backend = new BackendProcess(proc, conn);
    const initOptions: protocol.InitializationOptions = { allowedRoots: opts.roots ?? [] };
    if (opts.trusted !== 'omit') initOptions.trusted = opts.trusted ?? true;
    await conn.sendRequest('initialize', {
      processId: process.pid,
      rootUri: null,
      capabilities: { window: { workDoneProgress: opts.workDoneProgress ?? false } },
      initializationOptions: initOptions,
    });
    await conn.sendNotification('initialized', {});
    return backend;
  }

  get alive(): boolean {
    return !this.exitedFlag && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Records `$/progress` values sent on `token`. */
  watchProgress(token: ProgressToken): protocol.WorkDoneProgressValue[] {
    let values = this.progress.get(token);
    if (!values) {
      const list: protocol.WorkDoneProgressValue[] = [];
      this.progress.set(token, list);
      this.conn.onProgress(protocol.workDoneProgress, token, (v) => {
        list.push(v);
      });
      values = list;
    }
    return values;
  }

  eventsFor(runDir: string): protocol.TrainEvent[] {
    return this.trainEvents.filter((e) => e.runDir === runDir).map((e) => e.event);
  }

  /** Resolves when a cxr/trainEvent satisfying `pred` has arrived (or already had). */
  waitForEvent(pred: (e: protocol.TrainEventParams) => boolean, timeoutMs = 120_000): Promise<protocol.TrainEventParams> {
    return new Promise((resolve, reject) => {
      const hit = this.trainEvents.find(pred);
      if (hit) return resolve(hit);
      const listener = (p: protocol.TrainEventParams): void => {
        if (!pred(p)) return;
        clearTimeout(timer);
        this.eventListeners.delete(listener);
        resolve(p);
      };
      const timer = setTimeout(() => {
        this.eventListeners.delete(listener);
        reject(new Error(`No matching cxr/trainEvent within ${timeoutMs} ms. Server stderr: ${this.stderr.slice(-2000)}`));
      }, timeoutMs);
      this.eventListeners.add(listener);
    });
  }

  async stop(): Promise<void> {
    if (!this.alive) return;
    try {
      await this.conn.sendRequest('shutdown');
      await this.conn.sendNotification('exit');
    } catch {
      this.proc.kill('SIGKILL');
    }
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(timer);
    this.conn.dispose();
  }

  async kill9(): Promise<void> {
    this.proc.kill('SIGKILL');
    await this.exited;
    this.conn.dispose();
  }
}

/** Calls `fn`, expecting a JSON-RPC error; returns its CxrErrorData and message. */
export async function expectCxrError(fn: () => Promise<unknown>): Promise<{ code: string; message: string; details?: Record<string, unknown>; rpcCode: number }> {
  try {
    await fn();
  } catch (e) {
    const data = protocol.cxrErrorData(e);
    if (!data) throw new Error(`Expected a CxrError response, got: ${e instanceof Error ? e.message : String(e)}`);
    return { code: data.code, details: data.details, message: (e as Error).message, rpcCode: (e as { code: number }).code };
  }
  throw new Error('Expected the request to fail, but it succeeded.');
}
