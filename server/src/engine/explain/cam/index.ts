import type * as tfl from '@tensorflow/tfjs-layers';
import type { CamMethodName } from '../../api';
import { CxrError } from '../../errors';
import { CamMethod } from './camMethod';
import { ClassActivationMap } from './classActivationMap';
import { GradCam } from './gradCam';

export { CamMethod, type CamOutput } from './camMethod';
export { ClassActivationMap } from './classActivationMap';
export { GradCam } from './gradCam';

export function createCam(method: CamMethodName, model: tfl.LayersModel, featureLayer: string): CamMethod {
  switch (method) {
    case 'cam':
      return new ClassActivationMap(model, featureLayer);
    case 'gradcam':
      return new GradCam(model, featureLayer);
    default:
      throw new CxrError('INVALID_ARGUMENT', `Unknown CAM method '${String(method)}'; use 'cam' or 'gradcam'.`);
  }
}
