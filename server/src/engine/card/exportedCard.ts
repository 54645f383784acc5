import * as path from 'node:path';
import type { ExportResult } from '../api';
import type { PathPolicy } from '../security/pathPolicy';
import { writeFileAtomic } from '../util/atomic';
import { renderRunModelCard } from './modelCard';

/**
 * The model card travels with an exported model: `<name>.model-card.md` beside an .onnx file, `MODEL_CARD.md` inside a
 * TF.js folder. It is rendered from the run's files at export time, with a section on what the export takes and gives.
 */
export async function writeExportedModelCard(runDir: string, exported: Omit<ExportResult, 'modelCard'>, paths: PathPolicy): Promise<string> {
  const file = paths.check(
    exported.format === 'onnx'
      ? path.join(path.dirname(exported.path), `${path.parse(exported.path).name}.model-card.md`)
      : path.join(exported.path, 'MODEL_CARD.md'),
    'output file',
  );
  const card = await renderRunModelCard(runDir, paths);
  const section = [
    '## This export',
    '',
    `- ${exported.format === 'onnx' ? 'ONNX model' : 'TF.js layers model'} \`${path.basename(exported.path)}\`, exported from the run \`${path.basename(runDir)}\` on ${new Date().toISOString().slice(0, 10)}`,
    `- Input \`${exported.input.name}\` [${exported.input.shape.map((d) => d ?? 'batch').join(', ')}]: ${exported.input.range} (the backbone's own scaling is inside the model)`,
    `- Output \`${exported.outputName}\`: ${exported.output}: ${exported.classes.join(', ')}`,
    '- The refusal checks (not a chest radiograph, unlike the training images) and the temperature are not inside the exported model: apply them as described above, or use CXR Studio.',
    '',
  ].join('\n');
  writeFileAtomic(file, `${card.replace(/\n*$/, '\n')}\n${section}`);
  return file;
}
