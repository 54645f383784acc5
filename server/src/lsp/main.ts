/**
 * The CXR Studio backend process: a language-server-style JSON-RPC peer (vscode-languageserver) that the extension
 * forks with TransportKind.ipc (`--node-ipc`); `--stdio` works too (the protocol tests use it). It answers the
 * requests declared in common/src/protocol.ts by driving the engine; training runs in a worker thread so this thread
 * stays responsive.
 */
import * as path from 'node:path';
import {
  CancellationToken,
  createConnection,
  ProposedFeatures,
  WorkDoneProgressCancelNotification,
  type InitializeResult,
  type ProgressToken,
  type RequestHandler,
  RequestType,
  type Connection,
  StreamMessageReader,
  StreamMessageWriter,
  type ResponseError,
} from 'vscode-languageserver/node';
import * as protocol from '../../../common/src/protocol';
import type { BackendName } from '../engine/api';
import { onnxRuntimeReport } from '../engine/backend/ortReport';
import { Engine } from '../engine/engine';
import { CxrError } from '../engine/errors';
import { userModelsDir } from '../engine/locations';
import { downloadWeights, OFFICIAL_NOTOP_WEIGHTS } from '../engine/models/download';
import { findKnownWeights, getBackbone } from '../engine/models/registry';
import { BACKBONE_IDS, ENGINE_BACKEND_SETTINGS, isOneOf } from '../engine/names';
import { deleteRun, listRuns, readEvaluation, readRunDetails, updateRunMeta } from '../engine/runStore';
import { listDatasetImages, scanDatasets } from './datasetScan';
import { packageVersion } from './packageVersion';
import { renderAuditMarkdown } from '../engine/audit/auditReport';
import { HeavyRequestLimiter } from './heavyRequests';
import { Params } from './params';
import { PathGuard } from './pathGuard';
import * as requests from './requests';
import { toResponseError } from './responseErrors';
import { TrainingHost } from './trainingHost';
import * as viewRequests from './viewRequests';
import { cancelByProgressToken, TrainingProgress } from './trainingProgress';

const connection = openConnection();
const log = (msg: string): void => connection.console.log(msg);
const logError = (msg: string): void => connection.console.error(msg);

// A bug in one handler must not take the backend (and any training) down with it.
process.on('unhandledRejection', (e) => logError(`Unhandled rejection: ${e instanceof Error ? e.stack : String(e)}`));
process.on('uncaughtException', (e) => logError(`Uncaught exception: ${e.stack ?? e.message}`));

const version = packageVersion();
const guard = new PathGuard();
/** Requests that decode images or run a model, two at a time (see heavyRequests.ts). */
const heavy = new HeavyRequestLimiter(2);

/** Runs `work` with an AbortSignal that fires when the client cancels the request. */
async function cancellable<R>(token: CancellationToken, work: (signal: AbortSignal) => Promise<R>): Promise<R> {
  const abort = new AbortController();
  const sub = token.onCancellationRequested(() => abort.abort());
  try {
    return await work(abort.signal);
  } finally {
    sub.dispose();
  }
}
let trusted = false;
let canCreateProgress = false;
let engine = new Engine({ log, paths: guard });
let training = new TrainingHost({ log });

connection.onInitialize((params): InitializeResult => {
  const opts = readInitializationOptions(params.initializationOptions);
  try {
    guard.setRoots(opts.allowedRoots ?? []);
  } catch (e) {
    logError(`Ignoring initializationOptions.allowedRoots: ${e instanceof Error ? e.message : String(e)}`);
  }
  trusted = opts.trusted === true;
  const backend: BackendName | undefined = opts.engineBackend === 'auto' ? undefined : opts.engineBackend;
  engine = new Engine({ backend, log, paths: guard });
  training = new TrainingHost({ backend, log });
  canCreateProgress = params.capabilities.window?.workDoneProgress === true;
  // Replaces the library's handler, which only knows server-created progress; ours knows every training's token.
  connection.onNotification(WorkDoneProgressCancelNotification.type, ({ token }) => {
    cancelByProgressToken(token);
  });
  return { capabilities: {}, serverInfo: { name: 'cxr-studio-backend', version } };
});

connection.onInitialized(() => {
  engine.init().then(
    (report) => log(`Engine backend: ${report.name} (${report.reason})`),
    (e) => logError(`Engine backend failed to start: ${e instanceof Error ? e.message : String(e)}`),
  );
});

connection.onShutdown(async () => {
  await training.kill('the backend is shutting down');
});

/** Registers a handler whose failures become JSON-RPC errors carrying {code, details}. */
function handle<P, R>(
  type: RequestType<P, R, protocol.CxrErrorData>,
  handler: (params: unknown, token: CancellationToken) => Promise<R> | R,
): void {
  const wrapped = async (params: P, token: CancellationToken): Promise<R | ResponseError<protocol.CxrErrorData>> => {
    try {
      return await handler(params, token);
    } catch (e) {
      return toResponseError(e, logError);
    }
  };
  // The cast only resolves HandlerResult's conditional type, which TypeScript cannot do for a generic R.
  connection.onRequest(type, wrapped as RequestHandler<P, R, protocol.CxrErrorData>);
}

connection.onRequest(protocol.backendStatus, async () => {
  try {
    return {
      backend: await engine.init(),
      onnxRuntime: onnxRuntimeReport(),
      busy: training.active !== null,
      activeTraining: training.active,
      version,
      protocolVersion: protocol.PROTOCOL_VERSION,
      trusted,
      allowedRoots: guard.realRoots(),
      heavyRequests: { active: heavy.active, queued: heavy.queued, limit: heavy.limit },
      tensors: engine.liveTensors(),
      weights: BACKBONE_IDS.map((backbone) => ({
        backbone,
        file: findKnownWeights(getBackbone(backbone), 'noTop'),
        downloadable: OFFICIAL_NOTOP_WEIGHTS[backbone] !== undefined,
      })),
    };
  } catch (e) {
    return toResponseError(e, logError);
  }
});

handle(protocol.setAllowedRoots, (params) => {
  const roots = guard.setRoots(requests.parseAllowedRoots(params));
  log(`Allowed roots: ${roots.length} folder(s)`);
  return { roots };
});

handle(protocol.setTrust, (params) => {
  trusted = requests.parseTrust(params);
  log(`Workspace ${trusted ? 'trusted' : 'untrusted'}: training ${trusted ? 'enabled' : 'disabled'}`);
  return null;
});

handle(protocol.train, async (params, token) => {
  if (!trusted) {
    throw new CxrError(
      'INVALID_ARGUMENT',
      'Training is disabled in untrusted workspaces. Trust this workspace (Workspaces: Manage Workspace Trust) to train; ' +
        'browsing runs, evaluating and explaining still work.',
      { untrustedWorkspace: true },
    );
  }
  const clientToken = progressTokenOf(params);
  const req = requests.parseTrain(params, guard);
  training.assertIdle(); // before any progress UI opens
  const cancel = (): void => void training.cancel(req.out);
  const progress = await TrainingProgress.open(connection, clientToken, canCreateProgress, `Training ${path.basename(req.out)}`, cancel);
  const onCancelRequest = token.onCancellationRequested(cancel);
  log(`Training ${req.resume ? 'resumed' : 'started'}: ${req.out}`);
  try {
    const result = await training.start(req, (event) => {
      connection.sendNotification(protocol.trainEvent, { runDir: req.out, event });
      progress.event(event);
    }, guard.realRoots());
    log(`Training ${result.status}: ${req.out} (${result.epochsRun} epochs)`);
    return result;
  } finally {
    onCancelRequest.dispose();
    progress.done();
  }
});

handle(protocol.cancelTraining, (params) => {
  const { runDir } = requests.parseCancelTraining(params);
  return { cancelled: training.cancel(runDir) };
});

handle(protocol.evaluate, async (params, token) => {
  const req = requests.parseEvaluate(params, guard);
  return cancellable(token, (signal) => heavy.run(() => engine.evaluate(req, undefined, signal)));
});

handle(protocol.auditDataset, async (params, token) => {
  const req = requests.parseAudit(params, guard);
  const result = await cancellable(token, (signal) => heavy.run(() => engine.audit(req, undefined, signal)));
  return { ...result, markdown: renderAuditMarkdown(result, { thumbnails: true }) };
});

handle(protocol.lastAudit, (params) => engine.lastAudit(requests.parseLastAudit(params, guard)));

handle(protocol.shortcutAudit, async (params, token) => {
  const req = requests.parseShortcutAudit(params, guard);
  return cancellable(token, (signal) => heavy.run(() => engine.shortcuts(req, undefined, signal)));
});

handle(protocol.modelCard, (params) => engine.modelCard(guard.check(Params.of('cxr/modelCard', params).string('run'), 'run folder')));

handle(protocol.predict, (params) => {
  const req = requests.parsePredict(params, guard);
  return heavy.run(() => engine.predict(req));
});

handle(protocol.explain, (params) => {
  const req = requests.parseExplain(params, guard);
  return heavy.run(() => engine.explain(req));
});

handle(protocol.exportModel, (params) => engine.export(requests.parseExport(params, guard)));

handle(protocol.cacheInfo, () => engine.cacheInfo());

handle(protocol.clearCache, () => engine.clearCache());

handle(protocol.listRuns, (params) => listRuns(requests.parseRunsRoot(params, guard), guard));

handle(protocol.deleteRun, async (params) => {
  const runDir = requests.parseRunDir(params, guard);
  if (training.isTraining(runDir)) {
    throw new CxrError('BUSY', 'This run is training right now. Cancel the training before deleting the run.', { runDir });
  }
  const deleted = await deleteRun(runDir, guard);
  log(`Deleted run ${runDir}: ${deleted.removed.join(', ')}`);
  return deleted;
});

handle(protocol.downloadWeights, async (params, token) => {
  const backbone = requests.parseBackbone(params);
  const source = OFFICIAL_NOTOP_WEIGHTS[backbone];
  if (!source) {
    throw new CxrError('NOT_FOUND', `Keras publishes no hash for the ${backbone} weights file, so it is not downloaded unchecked; locate a copy instead.`, { backbone });
  }
  const dir = userModelsDir();
  if (!dir) throw new CxrError('INVALID_ARGUMENT', 'No user models folder (CXR_USER_MODELS_DIR) is set for this backend.');
  const file = await cancellable(token, (signal) => downloadWeights(source, dir, signal));
  log(`Downloaded ${source.url} (md5 checked) to ${file}`);
  return { file };
});

handle(protocol.scanDatasets, (params) => scanDatasets(requests.parseScanRoots(params, guard), guard, log));

handle(protocol.datasetImages, (params) => {
  const { dataset, ...filter } = requests.parseDatasetImages(params, guard);
  return listDatasetImages(dataset, filter, guard);
});

handle(protocol.trainingOptions, async () => {
  await engine.init();
  return viewRequests.trainingOptions();
});

handle(protocol.thumbnails, (params) => {
  const { files, size } = viewRequests.parseThumbnails(params, guard);
  return heavy.run(() => viewRequests.thumbnails(files, size));
});

handle(protocol.runDetails, (params) => readRunDetails(requests.parseRunDetails(params, guard), guard));

handle(protocol.updateRunMeta, (params) => updateRunMeta(requests.parseUpdateRunMeta(params, guard), guard));

handle(protocol.readEvaluation, (params) => {
  const { runDir, split } = requests.parseReadEvaluation(params, guard);
  return readEvaluation(runDir, split, guard);
});

if (process.env.CXR_LSP_TEST_HOOKS === '1') {
  // Lets the protocol tests crash the training worker the way an out-of-memory abort would.
  connection.onRequest('cxr/_test/killTrainingWorker', async () => ({ killed: await training.kill() }));
  // A bug in a handler, as opposed to a user mistake: must come back INTERNAL with the stack in the log only.
  handle(new RequestType<unknown, never, protocol.CxrErrorData>('cxr/_test/throw'), () => {
    throw new TypeError('simulated bug');
  });
}

connection.listen();

/**
 * The JSON-RPC connection. Over --stdio the message framing can be corrupted by the peer (a `Content-Length: abc`
 * header): the reader then cannot find the next message boundary and would stay alive but deaf, so the backend
 * exits (status 1) with a line on stderr, and the client restarts it. A body that is not JSON keeps the framing and
 * is only logged. Over IPC (the extension's transport) messages arrive whole and this cannot happen.
 */
function openConnection(): Connection {
  if (!process.argv.includes('--stdio')) return createConnection(ProposedFeatures.all);
  const reader = new StreamMessageReader(process.stdin);
  reader.onError((e) => {
    if (!/^(Header must provide a Content-Length|Content-Length value must be a number)/.test(e.message)) return;
    process.stderr.write(`cxr backend: malformed JSON-RPC header (${e.message.split('\n')[0]}); exiting so the client restarts the backend.\n`);
    process.exit(1);
  });
  return createConnection(ProposedFeatures.all, reader, new StreamMessageWriter(process.stdout));
}

function progressTokenOf(params: unknown): ProgressToken | undefined {
  const token = typeof params === 'object' && params !== null ? (params as { workDoneToken?: unknown }).workDoneToken : undefined;
  return typeof token === 'string' || typeof token === 'number' ? token : undefined;
}

function readInitializationOptions(raw: unknown): protocol.InitializationOptions {
  if (typeof raw !== 'object' || raw === null) return {};
  const o = raw as Record<string, unknown>;
  return {
    allowedRoots: Array.isArray(o.allowedRoots) ? o.allowedRoots.filter((r): r is string => typeof r === 'string') : undefined,
    trusted: o.trusted === true,
    engineBackend: isOneOf(ENGINE_BACKEND_SETTINGS, o.engineBackend) ? o.engineBackend : undefined,
  };
}
