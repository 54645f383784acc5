import * as fs from 'node:fs';
import * as path from 'node:path';
import { CxrError } from '../errors';
import { UNRESTRICTED, type PathPolicy } from '../security/pathPolicy';
import { MAX_TEXT_BYTES, readRegularFile } from '../util/safeRead';
import { parseCsv, type CsvRecord } from './csv';
import { isHidden, isImageFile, IMAGE_EXTENSIONS } from './imageFiles';
import { compareCodePoints, sortedByCodePoint } from './sortOrder';

export type DatasetSplit = 'train' | 'test';

export interface DatasetItem {
  /** Absolute path. */
  path: string;
  label: string;
  /** Index of `label` in `DatasetIndex.classes`. */
  labelIndex: number;
  /** null: a CSV row without a split (the caller decides). */
  split: DatasetSplit | null;
  patientId: string | null;
}

export interface DatasetIndex {
  /** The absolute path that was loaded: the dataset folder, or the CSV file itself. */
  root: string;
  source: 'folders' | 'csv';
  /** Sorted by code point, like Python's `sorted` (and so like Keras `flow_from_directory`). */
  classes: string[];
  /** Sorted: train, then test, then unassigned; by path within each. */
  items: DatasetItem[];
  warnings: string[];
}

const SPLITS: readonly DatasetSplit[] = ['train', 'test'];
const IMAGE_LIST = [...IMAGE_EXTENSIONS].join(' ');

/**
 * Loads `<root>/{train,test}/<class>/<images>` or a CSV manifest (`path|file,label[,split][,patient_id]`). Every
 * folder and file it reaches (CSV rows, symlinked folders and images) is checked against `policy` before it is
 * even looked at, so a refusal says nothing about whether an outside file exists.
 */
export async function loadDataset(rootOrCsv: string, policy: PathPolicy = UNRESTRICTED): Promise<DatasetIndex> {
  const target = policy.check(path.resolve(rootOrCsv), 'dataset');
  const stat = await statOrNull(target);
  if (!stat) {
    throw new CxrError('NOT_FOUND', `Dataset not found: ${target}. Give a folder holding train/ and test/, or a CSV manifest.`, {
      path: target,
    });
  }
  if (stat.isFile()) {
    if (path.extname(target).toLowerCase() !== '.csv') {
      throw new CxrError('DATASET_INVALID', `${target} is a file but not a .csv manifest. Give a dataset folder (train/, test/) or a CSV file.`, {
        path: target,
      });
    }
    return loadCsvDataset(target, policy);
  }
  if (!stat.isDirectory()) throw new CxrError('DATASET_INVALID', `${target} is neither a folder nor a CSV file.`, { path: target });
  return loadFolderDataset(target, policy);
}

export function classCounts(index: DatasetIndex): Record<string, { train: number; test: number; unassigned: number }> {
  const counts: Record<string, { train: number; test: number; unassigned: number }> = {};
  for (const name of index.classes) counts[name] = { train: 0, test: 0, unassigned: 0 };
  for (const item of index.items) counts[item.label][item.split ?? 'unassigned']++;
  return counts;
}

async function loadFolderDataset(root: string, policy: PathPolicy): Promise<DatasetIndex> {
  const warnings: string[] = [];
  const present: DatasetSplit[] = [];
  for (const split of SPLITS) {
    const s = await statOrNull(path.join(root, split));
    if (s?.isDirectory()) present.push(split);
  }
  if (present.length === 0) {
    const entries = await fs.promises.readdir(root);
    const csvs = entries.filter((e) => e.toLowerCase().endsWith('.csv') && !isHidden(e));
    const hint = csvs.length > 0 ? ` It holds ${csvs.join(', ')}: pass that CSV file instead if it is the manifest.` : '';
    throw new CxrError(
      'DATASET_INVALID',
      `${root} has no train/ or test/ folder. Expected <root>/train/<class>/<images> and <root>/test/<class>/<images>, or a CSV manifest.${hint}`,
      { path: root },
    );
  }
  for (const split of SPLITS) {
    if (!present.includes(split)) warnings.push(`No ${split}/ folder in ${root}: only ${present.join(', ')} is available.`);
  }
  for (const other of ['val', 'valid', 'validation']) {
    if ((await statOrNull(path.join(root, other)))?.isDirectory()) {
      warnings.push(`Ignored the ${other}/ folder: validation data is carved out of train/ (stratified), test/ is the held-out split.`);
    }
  }

  const perSplit = new Map<DatasetSplit, Map<string, string[]>>();
  for (const split of present) perSplit.set(split, await readSplitFolder(root, split, warnings, policy));

  const classSets = present.map((s) => [...perSplit.get(s)!.keys()]);
  if (present.length === 2) {
    const [train, test] = classSets;
    const onlyTrain = train.filter((c) => !test.includes(c));
    const onlyTest = test.filter((c) => !train.includes(c));
    if (onlyTrain.length > 0 || onlyTest.length > 0) {
      const parts = [];
      if (onlyTrain.length > 0) parts.push(`only in train/: ${onlyTrain.join(', ')}`);
      if (onlyTest.length > 0) parts.push(`only in test/: ${onlyTest.join(', ')}`);
      throw new CxrError(
        'DATASET_INVALID',
        `train/ and test/ must hold the same class folders (${parts.join('; ')}). Rename or add folders so both splits list the same classes.`,
        { onlyTrain, onlyTest },
      );
    }
  }
  const classes = sortedByCodePoint(classSets[0]);
  const items: DatasetItem[] = [];
  for (const split of present) {
    for (const [label, files] of perSplit.get(split)!) {
      for (const file of files) items.push({ path: file, label, labelIndex: classes.indexOf(label), split, patientId: null });
    }
  }
  return finish(root, 'folders', classes, items, warnings);
}

/** Reads `<root>/<split>/<class>/...` (subfolders of a class folder included, as Keras does). */
async function readSplitFolder(root: string, split: DatasetSplit, warnings: string[], policy: PathPolicy): Promise<Map<string, string[]>> {
  const splitDir = policy.check(path.join(root, split), 'dataset folder', `${split}/ of the dataset`);
  const byClass = new Map<string, string[]>();
  const strayFiles: string[] = [];
  for (const entry of sortedByCodePoint(await fs.promises.readdir(splitDir))) {
    if (isHidden(entry)) continue;
    const full = policy.check(path.join(splitDir, entry), 'dataset folder', `${split}/${entry} of the dataset`);
    const s = await statOrNull(full);
    if (s?.isDirectory()) byClass.set(entry, await listImages(full, warnings, policy, root));
    else if (s?.isFile()) strayFiles.push(entry);
  }
  if (strayFiles.length > 0) {
    warnings.push(`Ignored ${strayFiles.length} file(s) directly in ${split}/ (images must sit in a class folder): ${preview(strayFiles)}`);
  }
  if (byClass.size === 0) {
    throw new CxrError('DATASET_INVALID', `${splitDir} has no class folders. Put each class's images in ${split}/<class name>/.`, {
      path: splitDir,
    });
  }
  for (const [label, files] of byClass) {
    if (files.length === 0) {
      throw new CxrError(
        'DATASET_INVALID',
        `Class folder ${split}/${label} holds no images (looked for ${IMAGE_LIST}). Add images or remove the folder.`,
        { path: path.join(splitDir, label), split, label },
      );
    }
  }
  return byClass;
}

async function listImages(dir: string, warnings: string[], policy: PathPolicy, root: string): Promise<string[]> {
  const images: string[] = [];
  const skipped: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const entry of sortedByCodePoint(await fs.promises.readdir(d))) {
      if (isHidden(entry)) continue;
      const full = policy.check(path.join(d, entry), 'image', `${path.relative(root, path.join(d, entry))} of the dataset`);
      const s = await statOrNull(full);
      if (s?.isDirectory()) await walk(full);
      else if (s?.isFile()) (isImageFile(entry) ? images : skipped).push(full);
    }
  };
  await walk(dir);
  if (skipped.length > 0) {
    warnings.push(`Skipped ${skipped.length} non-image file(s) in ${dir}: ${preview(skipped.map((f) => path.relative(dir, f)))}`);
  }
  return images;
}

const PATH_COLUMNS = ['path', 'file', 'filename', 'file_name', 'filepath', 'file_path', 'image', 'image_path'];
const LABEL_COLUMNS = ['label', 'class', 'class_name'];
const SPLIT_COLUMNS = ['split', 'subset'];
const PATIENT_COLUMNS = ['patient_id', 'patientid', 'patient'];

async function loadCsvDataset(csvFile: string, policy: PathPolicy): Promise<DatasetIndex> {
  const source = path.basename(csvFile);
  const base = path.dirname(csvFile);
  const records = parseCsv((await readRegularFile(csvFile, 'CSV manifest', MAX_TEXT_BYTES)).toString('utf8'), source);
  if (records.length === 0) throw new CxrError('DATASET_INVALID', `${csvFile} is empty. It needs a header (path,label[,split][,patient_id]) and one row per image.`);
  const header = records[0].fields.map((h) => h.trim().toLowerCase().replace(/[\s-]+/g, '_'));
  const col = (names: string[]) => header.findIndex((h) => names.includes(h));
  const pathCol = col(PATH_COLUMNS);
  const labelCol = col(LABEL_COLUMNS);
  const splitCol = col(SPLIT_COLUMNS);
  const patientCol = col(PATIENT_COLUMNS);
  if (pathCol < 0 || labelCol < 0) {
    throw new CxrError(
      'DATASET_INVALID',
      `${source}: the first line must be a header naming a path column (path or file) and a label column (label); found: ${records[0].fields.join(', ')}.`,
      { header: records[0].fields },
    );
  }

  const warnings: string[] = [];
  const items: DatasetItem[] = [];
  const seen = new Map<string, { label: string; split: DatasetSplit | null; line: number }>();
  const skipped: string[] = [];
  for (const record of records.slice(1)) {
    const { line } = record;
    if (record.fields.length !== header.length) {
      throw rowError(source, record, `has ${record.fields.length} fields but the header has ${header.length} (quote fields that contain commas)`);
    }
    // A manifest written on Windows may use backslashes; elsewhere they would be part of the file name.
    const rawPath = record.fields[pathCol].trim();
    const rel = path.sep === '/' ? rawPath.replace(/\\/g, '/') : rawPath;
    const label = record.fields[labelCol].trim();
    if (rel === '') throw rowError(source, record, 'has an empty path');
    if (label === '') throw rowError(source, record, `has an empty label (${rel})`);
    const split = splitCol >= 0 ? parseSplit(record.fields[splitCol], source, record) : null;
    const patient = patientCol >= 0 ? record.fields[patientCol].trim() : '';
    const file = policy.check(path.resolve(base, rel), 'image', `named on line ${line} of ${source}`);
    if (!isImageFile(file)) {
      skipped.push(`line ${line}: ${rel}`);
      continue;
    }
    const s = await statOrNull(file);
    if (!s?.isFile()) {
      throw new CxrError('DATASET_INVALID', `${source} line ${line}: file not found: ${rel} (resolved to ${file}; paths are relative to the CSV's folder).`, {
        line,
        path: file,
      });
    }
    const previous = seen.get(file);
    if (previous) {
      if (previous.label !== label || previous.split !== split) {
        throw rowError(source, record, `lists ${rel} again with a different label or split than line ${previous.line}`);
      }
      warnings.push(`${source} line ${line}: duplicate of line ${previous.line} (${rel}), ignored.`);
      continue;
    }
    seen.set(file, { label, split, line });
    items.push({ path: file, label, labelIndex: -1, split, patientId: patient === '' ? null : patient });
  }
  if (skipped.length > 0) warnings.push(`Skipped ${skipped.length} row(s) that are not image files (${IMAGE_LIST}): ${preview(skipped)}`);

  const train = new Set(items.filter((i) => i.split === 'train').map((i) => i.label));
  const test = new Set(items.filter((i) => i.split === 'test').map((i) => i.label));
  if (train.size > 0 && test.size > 0) {
    // A class never trained on cannot be predicted: an error. A class absent from test only leaves its metrics empty.
    const onlyTest = sortedByCodePoint([...test].filter((c) => !train.has(c)));
    if (onlyTest.length > 0) {
      throw new CxrError('DATASET_INVALID', `${source}: class(es) ${onlyTest.join(', ')} appear only in test rows; add train rows for them.`, { onlyTest });
    }
    const onlyTrain = sortedByCodePoint([...train].filter((c) => !test.has(c)));
    if (onlyTrain.length > 0) warnings.push(`${source}: no test rows for ${onlyTrain.join(', ')}; its test metrics will be empty.`);
    const leaked = patientsInBothSplits(items);
    if (leaked > 0) warnings.push(`${leaked} patient(s) have images in both train and test rows: test results will be optimistic.`);
  }
  const classes = sortedByCodePoint(new Set(items.map((i) => i.label)));
  for (const item of items) item.labelIndex = classes.indexOf(item.label);
  return finish(csvFile, 'csv', classes, items, warnings);
}

function parseSplit(raw: string, source: string, record: CsvRecord): DatasetSplit | null {
  const v = raw.trim().toLowerCase();
  if (v === '') return null;
  if (v === 'train' || v === 'test') return v;
  throw rowError(source, record, `has an unknown split '${raw.trim()}': use train, test or leave it empty (validation is carved out of train)`);
}

function patientsInBothSplits(items: DatasetItem[]): number {
  const trainPatients = new Set(items.filter((i) => i.split === 'train' && i.patientId).map((i) => i.patientId));
  return new Set(items.filter((i) => i.split === 'test' && i.patientId && trainPatients.has(i.patientId)).map((i) => i.patientId)).size;
}

function finish(root: string, source: 'folders' | 'csv', classes: string[], items: DatasetItem[], warnings: string[]): DatasetIndex {
  if (items.length === 0) throw new CxrError('DATASET_INVALID', `${root} lists no images (looked for ${IMAGE_LIST}).`, { path: root });
  if (classes.length < 2) {
    throw new CxrError('DATASET_INVALID', `${root} has a single class (${classes[0]}): a classifier needs at least two classes.`, {
      path: root,
      classes,
    });
  }
  const rank = (s: DatasetSplit | null) => (s === 'train' ? 0 : s === 'test' ? 1 : 2);
  items.sort((a, b) => rank(a.split) - rank(b.split) || compareCodePoints(a.path, b.path));
  return { root, source, classes, items, warnings };
}

function rowError(source: string, record: CsvRecord, problem: string): CxrError {
  return new CxrError('DATASET_INVALID', `${source} line ${record.line} ${problem}.`, { line: record.line });
}

function preview(names: string[], max = 5): string {
  return names.length <= max ? names.join(', ') : `${names.slice(0, max).join(', ')} and ${names.length - max} more`;
}

async function statOrNull(p: string): Promise<fs.Stats | null> {
  try {
    return await fs.promises.stat(p);
  } catch {
    return null;
  }
}
