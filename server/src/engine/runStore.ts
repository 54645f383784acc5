/**
 * The run store: the one owner of run folders. Training writes them through RunFolder (train/runFolder.ts, the file
 * layout); everything that reads a run (the backend's requests, inference, evaluation, the CLI) asks this module,
 * so there is one idea of what a run is, of a stale 'running' status, and of where evaluations live.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AuditResult, ShortcutAuditResult, EvaluateResult, EvaluationSummary, RunConfig, RunDetails, RunMeta, RunMetaUpdate, RunStatus, RunSummary } from './api';
import { CxrError } from './errors';
import { curvesFromPredictions } from './eval/curves';
import { checkDisplayName, checkNotes, checkTags, EMPTY_RUN_META, metaFromFile } from './runMeta';
import { UNRESTRICTED, type PathPolicy } from './security/pathPolicy';
import { RunFolder, verifyRunContents, type RunStatusFile } from './train/runFolder';
import { readJson, writeJsonAtomic } from './util/atomic';

/** Summaries of every run folder directly inside `runsRoot`, newest first. Unreadable folders are skipped. */
export async function listRuns(runsRoot: string, paths: PathPolicy = UNRESTRICTED): Promise<RunSummary[]> {
  const root = paths.check(path.resolve(runsRoot), 'runs folder');
  if (!fs.existsSync(root)) return [];
  const summaries: RunSummary[] = [];
  for (const entry of fs.readdirSync(root, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    try {
      // A run whose files lead outside the allowed roots is refused here like any outside folder: not listed.
      const run = new RunFolder(path.join(root, entry.name), paths);
      if (!run.exists()) continue;
      summaries.push(summarise(run, run.readConfig(), run.readStatus()));
    } catch {
      // A half-written or foreign folder is not a run; listing must not fail because of it.
    }
  }
  return summaries.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}

export async function readRunSummary(runDir: string, paths: PathPolicy = UNRESTRICTED): Promise<RunSummary> {
  const run = openRun(runDir, paths);
  return summarise(run, run.readConfig(), run.readStatus());
}

/** Config, status, history and saved evaluations of one run. */
export function readRunDetails(runDir: string, paths: PathPolicy = UNRESTRICTED): RunDetails {
  const run = openRun(runDir, paths);
  const config = run.readConfig();
  const status = run.readStatus();
  return {
    summary: summarise(run, config, status),
    config,
    history: run.readHistory(),
    message: status?.message ?? null,
    evaluations: listEvaluations(run),
  };
}

export function readRunConfig(runDir: string, paths: PathPolicy = UNRESTRICTED): RunConfig {
  return openRun(runDir, paths).readConfig();
}

/** Where evaluations of `split` are written by default. */
export function evaluationDir(runDir: string, split: string, paths: PathPolicy = UNRESTRICTED): string {
  return new RunFolder(runDir, paths).entry(path.join('evaluation', split));
}

/** The saved evaluation of one split, predictions included. */
export function readEvaluation(runDir: string, split: string, paths: PathPolicy = UNRESTRICTED): EvaluateResult {
  const run = openRun(runDir, paths);
  if (!/^[\w.-]+$/.test(split) || split.startsWith('.')) {
    throw new CxrError('INVALID_ARGUMENT', `'${split}' is not an evaluation split name.`, { split });
  }
  const file = run.entry(path.join('evaluation', split, 'evaluation.json'));
  if (!fs.existsSync(file)) {
    throw new CxrError('NOT_FOUND', `${path.basename(run.dir)} has no saved evaluation of the ${split} split. Evaluate it first.`, { runDir: run.dir, split });
  }
  const result = readJson<EvaluateResult>(file);
  if (!Array.isArray(result.confusion_matrix) || !Array.isArray(result.predictions)) {
    throw new CxrError('RUN_INVALID', `${file} is not a CXR Studio evaluation (no confusion matrix or predictions).`, { file });
  }
  // Evaluations saved before the curves existed get them from their own predictions.
  if (!Array.isArray(result.curves)) result.curves = curvesFromPredictions(result.classes, result.predictions);
  return result;
}

export function recordTestAccuracy(runDir: string, accuracy: number, paths: PathPolicy = UNRESTRICTED): void {
  const run = new RunFolder(runDir, paths);
  const status = run.readStatus();
  if (status) run.writeStatus({ ...status, testAccuracy: accuracy, updatedAt: new Date().toISOString() });
}

/** Saves the dataset audit that ran before the run's training (audit.json). */
export function recordAudit(runDir: string, audit: AuditResult, paths: PathPolicy = UNRESTRICTED): void {
  writeJsonAtomic(new RunFolder(runDir, paths).auditFile, audit);
}

/** Saves the run's latest shortcut audits (shortcuts.json). */
export function recordShortcuts(runDir: string, result: ShortcutAuditResult, paths: PathPolicy = UNRESTRICTED): void {
  writeJsonAtomic(new RunFolder(runDir, paths).shortcutsFile, result);
}

/**
 * Changes the user's display name, notes or tags of a run (meta.json); fields left out keep their value. Invalid
 * input is refused with INVALID_ARGUMENT before anything is written. Returns the run's summary as it now reads.
 */
export function updateRunMeta(update: RunMetaUpdate, paths: PathPolicy = UNRESTRICTED): RunSummary {
  const next: Partial<RunMeta> = {};
  if (update.displayName !== undefined) next.displayName = checkDisplayName(update.displayName);
  if (update.notes !== undefined) next.notes = checkNotes(update.notes);
  if (update.tags !== undefined) next.tags = checkTags(update.tags);
  const run = openRun(update.runDir, paths);
  const config = run.readConfig();
  writeJsonAtomic(run.metaFile, { ...readMeta(run), ...next });
  return summarise(run, config, run.readStatus());
}

/** Marks a run whose trainer died as interrupted (it can be resumed from its last checkpoint). */
export function markInterrupted(runDir: string, message: string): void {
  const run = new RunFolder(path.resolve(runDir));
  const status = run.readStatus();
  if (status && status.status === 'running') {
    run.writeStatus({ ...status, status: 'interrupted', updatedAt: new Date().toISOString(), message });
  }
}

/**
 * The best model's weights manifest; RUN_INVALID when no epoch has finished. After a crash in the middle of the
 * model's swap, the manifest of the complete sibling (read-only: the run is repaired when it is resumed).
 */
export function trainedModelManifest(runDir: string, paths: PathPolicy = UNRESTRICTED): string {
  const run = openRun(runDir, paths);
  const dir = run.modelDirForReading();
  if (dir === null) {
    throw new CxrError('RUN_INVALID', `${run.dir} has no trained model yet (no epoch has finished). Train or resume it first.`, { runDir: run.dir });
  }
  return run.entry(path.join(path.basename(dir), 'weights_manifest.json'));
}

export interface DeletedRun {
  runDir: string;
  /** What was removed, relative to the run folder, folders with a trailing '/'. */
  removed: string[];
}

/**
 * Deletes a run folder, and only one that is verifiably a run: a config.json that reads as a run's, and nothing but
 * the files a run holds (verifyRunContents). Never an allowed root, never a folder with a file it did not write: such
 * a folder is refused and nothing is deleted. Removes the run's own entries one by one, then the empty folder.
 */
export async function deleteRun(runDir: string, paths: PathPolicy = UNRESTRICTED): Promise<DeletedRun> {
  const dir = paths.check(path.resolve(runDir), 'run folder');
  const refuse = (why: string): CxrError => new CxrError('RUN_INVALID', `${dir} ${why}; nothing was deleted.`, { runDir: dir });
  const stat = fs.lstatSync(dir, { throwIfNoEntry: false });
  if (!stat) throw new CxrError('NOT_FOUND', `Run folder not found: ${dir}.`, { runDir: dir });
  if (stat.isSymbolicLink() || !stat.isDirectory()) throw refuse('is not a folder (a link or a file)');
  if (paths.isRoot(dir) || path.dirname(dir) === dir) throw refuse('is one of the folders CXR Studio may access, not a run inside one');
  const run = new RunFolder(dir, paths);
  if (!run.exists()) throw refuse('is not a run folder (no config.json)');
  const config = run.readConfig();
  if (config.version !== 1 || !Array.isArray(config.classes) || typeof config.backbone !== 'string') {
    throw refuse("has a config.json that is not a CXR Studio run's");
  }
  const { entries, unexpected } = verifyRunContents(dir);
  if (unexpected.length > 0) {
    throw refuse(`holds files a run does not (${unexpected.slice(0, 5).join(', ')}${unexpected.length > 5 ? ` and ${unexpected.length - 5} more` : ''}); move them out first`);
  }
  const removed: string[] = [];
  for (const entry of entries) {
    const full = path.join(dir, entry);
    const isDir = fs.lstatSync(full).isDirectory();
    fs.rmSync(full, { recursive: true, force: true });
    removed.push(isDir ? `${entry}/` : entry);
  }
  fs.rmdirSync(dir);
  return { runDir: dir, removed };
}


/**
 * The status a reader should believe: 'running' written by a process that is gone is an interrupted run.
 * The backend trains in a worker thread of its own process, so its own pid counts as alive.
 */
export function effectiveStatus(status: RunStatusFile | null): RunStatus {
  if (!status) return 'interrupted';
  if (status.status === 'running' && !processAlive(status.pid)) return 'interrupted';
  return status.status;
}

function openRun(runDir: string, paths: PathPolicy = UNRESTRICTED): RunFolder {
  const run = new RunFolder(paths.check(path.resolve(runDir), 'run folder'), paths);
  if (!run.exists()) {
    throw new CxrError('RUN_INVALID', `${run.dir} is not a CXR Studio run folder (no config.json). Train one with 'cxr train'.`, { runDir: run.dir });
  }
  return run;
}

function summarise(run: RunFolder, config: RunConfig, status: RunStatusFile | null): RunSummary {
  return {
    runDir: run.dir,
    name: path.basename(run.dir),
    status: effectiveStatus(status),
    backbone: config.backbone,
    classes: config.classes,
    epochs: config.epochs,
    epochsRun: status?.epochsRun ?? 0,
    bestEpoch: status?.bestEpoch ?? null,
    bestValAccuracy: status?.bestValAccuracy ?? null,
    testAccuracy: status?.testAccuracy ?? null,
    createdAt: config.createdAt,
    hasModel: status?.bestEpoch != null && run.hasModel(),
    ...readMeta(run),
  };
}

/** The run's meta.json; a missing or unreadable one (or one outside the allowed roots) counts as nothing said. */
function readMeta(run: RunFolder): RunMeta {
  try {
    const file = run.metaFile;
    return fs.existsSync(file) ? metaFromFile(readJson<unknown>(file)) : { ...EMPTY_RUN_META };
  } catch {
    return { ...EMPTY_RUN_META };
  }
}

function listEvaluations(run: RunFolder): EvaluationSummary[] {
  if (!fs.existsSync(run.evaluationRoot)) return [];
  const found: EvaluationSummary[] = [];
  for (const entry of fs.readdirSync(run.evaluationRoot, { withFileTypes: true })) {
    const file = path.join(run.evaluationRoot, entry.name, 'evaluation.json');
    if (!entry.isDirectory() || !fs.existsSync(file)) continue;
    try {
      const r = readJson<EvaluateResult>(file);
      if (typeof r.accuracy !== 'number' || !Array.isArray(r.confusion_matrix)) continue;
      found.push({ split: entry.name, data: r.data, n: r.n, accuracy: r.accuracy, accuracy_ci: r.accuracy_ci, evaluatedAt: fs.statSync(file).mtime.toISOString() });
    } catch {
      // an unreadable evaluation is left out, the run still lists
    }
  }
  // test first: it is the one to report
  return found.sort((a, b) => Number(b.split === 'test') - Number(a.split === 'test') || a.split.localeCompare(b.split));
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
