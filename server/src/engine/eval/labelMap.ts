import { CxrError } from '../errors';

/**
 * External validation across label sets: "Normal=not-Covid,Viral Pneumonia=not-Covid" merges model classes (their
 * probabilities add up) and renames data labels the same way; names not in the map stay as they are.
 */
export function parseLabelMap(text: string): Record<string, string> {
  const map: Record<string, string> = {};
  for (const part of text.split(',')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    const from = part.slice(0, eq).trim();
    const to = part.slice(eq + 1).trim();
    if (eq < 0 || from === '' || to === '') {
      throw new CxrError('INVALID_ARGUMENT', `Label map entry '${part.trim()}' is not NAME=TARGET (e.g. "Normal=not-Covid,Viral Pneumonia=not-Covid").`);
    }
    map[from] = to;
  }
  return map;
}

export interface MappedEvaluation {
  classes: string[];
  probs: number[][];
  yTrue: number[];
}

export function applyLabelMap(modelClasses: string[], probs: number[][], dataLabels: string[], map: Record<string, string>): MappedEvaluation {
  const target = (name: string) => map[name] ?? name;
  const classes: string[] = [];
  for (const c of modelClasses) if (!classes.includes(target(c))) classes.push(target(c));
  const column = modelClasses.map((c) => classes.indexOf(target(c)));
  const unknown = [...new Set(dataLabels.map(target).filter((l) => !classes.includes(l)))];
  if (unknown.length > 0) {
    throw new CxrError(
      'INVALID_ARGUMENT',
      `Data label(s) ${unknown.join(', ')} match none of the model's classes after mapping (${classes.join(', ')}). Add them to --map, e.g. "${unknown[0]}=${classes[0]}".`,
      { unknown, classes },
    );
  }
  return {
    classes,
    probs: probs.map((p) => {
      const row = new Array<number>(classes.length).fill(0);
      p.forEach((v, i) => (row[column[i]] += v));
      return row;
    }),
    yTrue: dataLabels.map((l) => classes.indexOf(target(l))),
  };
}
