/**
 * The dataset view (viewType `cxr.dataset`): a thumbnail grid per class and split (thumbnails made by the backend at
 * a small size, never full images), the class balance, and the dataset audit's findings once an audit has run.
 */
import type { AuditFinding } from '../../server/src/engine/api';
import type { DatasetSplitName, DatasetSummary } from './protocol';

export interface DatasetViewThumb {
  file: string;
  name: string;
  /** A small JPEG as a data: URL; null when the backend could not decode the file (`error` says why). */
  src: string | null;
  error?: string;
}

export interface DatasetViewGroup {
  split: DatasetSplitName;
  className: string;
  /** Images of this class in this split. */
  count: number;
  /** The first of them (at most THUMBS_PER_GROUP), as thumbnails. */
  thumbs: DatasetViewThumb[];
}

export interface DatasetViewState {
  dataset: DatasetSummary;
  label: string;
  groups: DatasetViewGroup[];
  loading: boolean;
  error: string | null;
  /** The findings of this dataset's latest audit (this session's or a stored one), or null when none ran yet. */
  findings: AuditFinding[] | null;
  /** When that audit ran, and whether the dataset's files changed since, in words (null without an audit). */
  auditAge?: string | null;
}

export const THUMBS_PER_GROUP = 24;
export const DATASET_THUMB_SIZE = 96;

export type DatasetViewToWebview = { type: 'state'; state: DatasetViewState };

export type DatasetViewFromWebview = { type: 'ready' } | { type: 'openImage'; file: string } | { type: 'audit' };

export const DatasetViewIds = {
  balance: 'class-balance',
  grid: 'thumb-groups',
  findings: 'audit-findings',
  runAudit: 'run-audit',
  split: 'split-filter',
} as const;
