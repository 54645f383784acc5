/**
 * The run store: the one owner of run folders. Training writes them through RunFolder (train/runFolder.ts, the file
 * layout); everything that reads a run (the backend's requests, inference, evaluation, the CLI) asks this module,
 * so there is one idea of what a run is, of a stale 'running' status, and of where evaluations live.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AuditResult, EvaluateResult, EvaluationSummary, RunConfig, RunDetails, RunStatus, RunSummary } from './api';
import { CxrError } from './errors';
import { RunFolder, type RunStatusFile } from './train/runFolder';
import { readJson, writeJsonAtomic } from './util/atomic';

/** Summaries of every run folder directly inside `runsRoot`, newest first. Unreadable folders are skipped. */
export async function listRuns(runsRoot: string): Promise<RunSummary[]> {
  const root = path.resolve(runsRoot);
  if (!fs.existsSync(root)) return [];
  const summaries: RunSummary[] = [];
  for (const entry of fs.readdirSync(root, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const run = new RunFolder(path.join(root, entry.name));
    if (!run.exists()) continue;
    try {
      summaries.push(summarise(run, run.readConfig(), run.readStatus()));
    } catch {
      // A half-written or foreign folder is not a run; listing must not fail because of it.
    }
  }
  return summaries.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}

export async function readRunSummary(runDir: string): Promise<RunSummary> {
  const run = openRun(runDir);
  return summarise(run, run.readConfig(), run.readStatus());
}

/** Config, status, history and saved evaluations of one run. */
export function readRunDetails(runDir: string): RunDetails {
  const run = openRun(runDir);
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

export function readRunConfig(runDir: string): RunConfig {
  return openRun(runDir).readConfig();
}

/** Where evaluations of `split` are written by default. */
export function evaluationDir(runDir: string, split: string): string {
  return path.join(new RunFolder(path.resolve(runDir)).evaluationRoot, split);
}

/** The saved evaluation of one split, predictions included. */
export function readEvaluation(runDir: string, split: string): EvaluateResult {
  const run = openRun(runDir);
  if (!/^[\w.-]+$/.test(split) || split.startsWith('.')) {
    throw new CxrError('INVALID_ARGUMENT', `'${split}' is not an evaluation split name.`, { split });
  }
  const file = path.join(run.evaluationRoot, split, 'evaluation.json');
  if (!fs.existsSync(file)) {
    throw new CxrError('NOT_FOUND', `${path.basename(run.dir)} has no saved evaluation of the ${split} split. Evaluate it first.`, { runDir: run.dir, split });
  }
  const result = readJson<EvaluateResult>(file);
  if (!Array.isArray(result.confusion_matrix) || !Array.isArray(result.predictions)) {
    throw new CxrError('RUN_INVALID', `${file} is not a CXR Studio evaluation (no confusion matrix or predictions).`, { file });
  }
  return result;
}

export function recordTestAccuracy(runDir: string, accuracy: number): void {
  const run = new RunFolder(path.resolve(runDir));
  const status = run.readStatus();
  if (status) run.writeStatus({ ...status, testAccuracy: accuracy, updatedAt: new Date().toISOString() });
}

/** Saves the dataset audit that ran before the run's training (audit.json). */
export function recordAudit(runDir: string, audit: AuditResult): void {
  writeJsonAtomic(new RunFolder(path.resolve(runDir)).auditFile, audit);
}

/** Marks a run whose trainer died as interrupted (it can be resumed from its last checkpoint). */
export function markInterrupted(runDir: string, message: string): void {
  const run = new RunFolder(path.resolve(runDir));
  const status = run.readStatus();
  if (status && status.status === 'running') {
    run.writeStatus({ ...status, status: 'interrupted', updatedAt: new Date().toISOString(), message });
  }
}

/** The best model's weights manifest; RUN_INVALID when no epoch has finished. */
export function trainedModelManifest(runDir: string): string {
  const run = openRun(runDir);
  if (!run.hasModel()) {
    throw new CxrError('RUN_INVALID', `${run.dir} has no trained model yet (no epoch has finished). Train or resume it first.`, { runDir: run.dir });
  }
  return path.join(run.modelDir, 'weights_manifest.json');
}

/** Deletes a run folder; refuses anything that is not a run folder. */
export async function deleteRun(runDir: string): Promise<void> {
  const run = new RunFolder(path.resolve(runDir));
  if (!run.exists()) throw new CxrError('RUN_INVALID', `${run.dir} is not a run folder; nothing was deleted.`);
  fs.rmSync(run.dir, { recursive: true, force: true });
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

function openRun(runDir: string): RunFolder {
  const run = new RunFolder(path.resolve(runDir));
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
  };
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
