import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RunSummary } from './api';
import { CxrError } from './errors';
import { RunFolder } from './train/runFolder';

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
      summaries.push(await readRunSummary(run.dir));
    } catch {
      // A half-written or foreign folder is not a run; listing must not fail because of it.
    }
  }
  return summaries.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}

export async function readRunSummary(runDir: string): Promise<RunSummary> {
  const run = new RunFolder(path.resolve(runDir));
  const config = run.readConfig();
  const status = run.readStatus();
  let state = status?.status ?? 'interrupted';
  if (state === 'running' && status && !processAlive(status.pid)) state = 'interrupted';
  return {
    runDir: run.dir,
    name: path.basename(run.dir),
    status: state,
    backbone: config.backbone,
    classes: config.classes,
    epochs: config.epochs,
    epochsRun: status?.epochsRun ?? 0,
    bestEpoch: status?.bestEpoch ?? null,
    bestValAccuracy: status?.bestValAccuracy ?? null,
    testAccuracy: status?.testAccuracy ?? null,
    createdAt: config.createdAt,
  };
}

/** Deletes a run folder; refuses anything that is not a run folder. */
export async function deleteRun(runDir: string): Promise<void> {
  const run = new RunFolder(path.resolve(runDir));
  if (!run.exists()) throw new CxrError('RUN_INVALID', `${run.dir} is not a run folder; nothing was deleted.`);
  fs.rmSync(run.dir, { recursive: true, force: true });
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
