import type { ImagePrediction } from '../engine/api';

/** One line per image; a refused or uncertain prediction never reads as a confident class. */
export function formatPrediction(p: ImagePrediction): string {
  const shown = p.calibratedProbabilities ?? p.probabilities;
  const probs = Object.entries(shown).map(([k, v]) => `${k} ${(v * 100).toFixed(1)}%`).join(', ');
  switch (p.status) {
    case 'refused':
      return `${p.file}: REFUSED - ${p.ood?.reason} (the model would say ${p.label}; --ignore-ood to accept it anyway)`;
    case 'uncertain':
      return `${p.file}: UNCERTAIN (leaning ${p.label}: ${probs})${p.ood?.flagged ? ` - also flagged: ${p.ood.reason}` : ''}`;
    default:
      return `${p.file}: ${p.label} (${probs})${p.ood?.flagged ? ` - flagged but accepted by --ignore-ood: ${p.ood.reason}` : ''}`;
  }
}
