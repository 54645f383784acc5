export { jet, jetIndex, JET_BYTES } from './jet';
export { upsampleBilinear } from './upsample';
export { blendOverlay, blendOverlayRect, renderOverlayPng, renderOverlayPngRect } from './overlay';
export { renderCamGrid, escapeXml, GRID_COLOURS, type CamGridTile, type CamGridOptions } from './grid';
