/**
 * Downloading a backbone's ImageNet weights from the address Keras Applications downloads them from, checked against
 * the hash Keras publishes for that file (keras/src/applications/<model>.py, `get_file(..., file_hash=...)`). Keras
 * publishes an md5 for the VGG16 files and none for MobileNetV2, whose weights ship inside the extension instead:
 * a file is only ever downloaded when a published hash can check it.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import type { BackboneId } from '../api';
import { CxrError } from '../errors';
import { KERAS_NOTOP_FILES } from '../names';

export interface OfficialWeights {
  url: string;
  file: string;
  md5: string;
}

const KERAS_APPLICATIONS = 'https://storage.googleapis.com/tensorflow/keras-applications/';

/** The published no-top files with their Keras-published md5, by backbone. */
export const OFFICIAL_NOTOP_WEIGHTS: Readonly<Partial<Record<BackboneId, OfficialWeights>>> = {
  vgg16: { url: `${KERAS_APPLICATIONS}vgg16/${KERAS_NOTOP_FILES.vgg16}`, file: KERAS_NOTOP_FILES.vgg16, md5: '6d6bbae143d832006294945121d1f1fc' },
};

const MAX_REDIRECTS = 5;

/**
 * Downloads `source.url` into `destDir/source.file`, hashing while it streams; the file appears only when its md5 is
 * the published one (WEIGHTS_INVALID otherwise, and nothing is left behind).
 */
export async function downloadWeights(source: OfficialWeights, destDir: string, signal?: AbortSignal): Promise<string> {
  fs.mkdirSync(destDir, { recursive: true });
  const dest = path.join(destDir, source.file);
  const tmp = `${dest}.download-${process.pid}`;
  try {
    const md5 = await fetchTo(source.url, tmp, signal, 0);
    if (md5 !== source.md5.toLowerCase()) {
      throw new CxrError(
        'WEIGHTS_INVALID',
        `The file downloaded from ${source.url} has md5 ${md5}, not the published ${source.md5}: it was not saved. Try again, or locate a copy you trust.`,
        { url: source.url, md5, expected: source.md5 },
      );
    }
    fs.renameSync(tmp, dest);
    return dest;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

function fetchTo(url: string, file: string, signal: AbortSignal | undefined, redirects: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const get = url.startsWith('https:') ? https.get : url.startsWith('http:') ? http.get : null;
    if (!get) return reject(new CxrError('INVALID_ARGUMENT', `Only http(s) downloads are supported: ${url}`));
    const req = get(url, { signal }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location && redirects < MAX_REDIRECTS) {
        res.resume();
        fetchTo(new URL(res.headers.location, url).toString(), file, signal, redirects + 1).then(resolve, reject);
        return;
      }
      if (status !== 200) {
        res.resume();
        return reject(new CxrError('NOT_FOUND', `Downloading ${url} failed: HTTP ${status}.`, { url, status }));
      }
      const hash = createHash('md5');
      const out = fs.createWriteStream(file);
      res.on('data', (chunk: Buffer) => hash.update(chunk));
      res.pipe(out);
      out.on('finish', () => resolve(hash.digest('hex')));
      out.on('error', reject);
      res.on('error', reject);
    });
    req.on('error', (e) => {
      if (signal?.aborted) reject(new CxrError('CANCELLED', 'Download cancelled.'));
      else reject(new CxrError('NOT_FOUND', `Downloading ${url} failed: ${e.message}. Without network access, locate the file instead.`, { url }));
    });
  });
}
