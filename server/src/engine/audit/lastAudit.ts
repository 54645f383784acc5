import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AuditResult, LastAuditResult } from '../api';
import { cacheDir, writeEntryAtomic } from '../cache/featureCache';
import { loadDataset, type DatasetIndex } from '../data/dataset';
import { UNRESTRICTED, type PathPolicy } from '../security/pathPolicy';

/** Bump when the stored shape changes: older files then read as "no audit yet". */
const FORMAT_VERSION = 1;

interface StoredAudit {
  version: number;
  /** The resolved dataset path the file is keyed by. */
  data: string;
  auditedAt: string;
  /** sha256 of the dataset's listing (paths, labels, splits) when it was audited. */
  listing: string;
  result: AuditResult;
}

/**
 * The latest audit of each dataset, so its findings still show after a window reload and in later sessions:
 * <cacheDir>/last-audits/<sha256(resolved dataset path)>.json, written after every audit (the editor's, `cxr audit`,
 * the one before training). These are results, not cache entries: `cxr cache clear` leaves them. A stored audit says
 * whether the dataset's file list changed since (files added, removed, moved or relabelled; not edited in place).
 */
export class LastAudits {
  private readonly root: string;

  constructor(
    private readonly policy: PathPolicy = UNRESTRICTED,
    dir = cacheDir(),
  ) {
    this.root = path.join(dir, 'last-audits');
  }

  private fileFor(dataset: string): string {
    return path.join(this.root, `${createHash('sha256').update(path.resolve(dataset)).digest('hex')}.json`);
  }

  async save(result: AuditResult, auditedAt = new Date()): Promise<void> {
    const data = path.resolve(result.data);
    const stored: StoredAudit = {
      version: FORMAT_VERSION,
      data,
      auditedAt: auditedAt.toISOString(),
      listing: listingHash(await loadDataset(data, this.policy)),
      result,
    };
    await writeEntryAtomic(this.fileFor(data), JSON.stringify(stored));
  }

  /** The dataset's latest stored audit, or null when it was never audited (or its file is unreadable or old). */
  async load(dataset: string): Promise<LastAuditResult | null> {
    const data = path.resolve(dataset);
    const index = await loadDataset(data, this.policy);
    let stored: StoredAudit;
    try {
      stored = JSON.parse(await fs.promises.readFile(this.fileFor(data), 'utf8')) as StoredAudit;
    } catch {
      return null;
    }
    if (stored.version !== FORMAT_VERSION || stored.data !== data || !Array.isArray(stored.result?.findings)) return null;
    return { auditedAt: stored.auditedAt, changedSince: stored.listing !== listingHash(index), result: stored.result };
  }
}

function listingHash(index: DatasetIndex): string {
  const h = createHash('sha256');
  for (const item of index.items) h.update(`${item.path}\u0000${item.label}\u0000${item.split ?? ''}\n`);
  return h.digest('hex');
}
