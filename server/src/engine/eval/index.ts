export { wilsonInterval, normalQuantile } from './intervals';
export { rocAucOneVsRest } from './auc';
export { computeMetrics } from './metrics';
export { computeCaveats } from './caveats';
export { renderEvaluationMarkdown } from './report';
export { classCurves, operatingPoints, operatingPointAt, rocPoints, prPoints, areaUnderRoc, averagePrecision } from './curves';
