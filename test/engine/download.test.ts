import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { downloadWeights, OFFICIAL_NOTOP_WEIGHTS } from '../../server/src/engine/models/download';
import { KERAS_NOTOP_FILES } from '../../server/src/engine/names';
import { MOBILENET_NOTOP_H5, requireShared } from '../helpers/shared';
import { rejectsWithCxrError, scratchDirFactory } from '../helpers/scratch';

/** "Get Backbone Weights" downloads, against a local HTTP server on 127.0.0.1 (no download can be made here). */
describe('downloading backbone weights with the published hash checked', () => {
  const scratch = scratchDirFactory();
  let server: http.Server;
  let base = '';
  let body: Buffer;

  before(async () => {
    body = fs.readFileSync(requireShared(MOBILENET_NOTOP_H5)); // a real Keras weights file as the payload
    server = http.createServer((req, res) => {
      if (req.url === '/moved') {
        res.writeHead(302, { location: '/weights.h5' }).end();
      } else if (req.url === '/weights.h5') {
        res.writeHead(200, { 'content-length': body.length }).end(body);
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('saves the file (following a redirect) when its md5 is the published one', async () => {
    const dir = scratch('dl-ok');
    const md5 = createHash('md5').update(body).digest('hex');
    const file = await downloadWeights({ url: `${base}/moved`, file: KERAS_NOTOP_FILES.mobilenet_v2, md5 }, dir);
    assert.equal(file, path.join(dir, KERAS_NOTOP_FILES.mobilenet_v2));
    assert.ok(fs.readFileSync(file).equals(body));
    assert.deepEqual(fs.readdirSync(dir), [KERAS_NOTOP_FILES.mobilenet_v2], 'no temporary file left');
  });

  it('refuses a file whose md5 differs, leaving nothing behind', async () => {
    const dir = scratch('dl-bad');
    const source = { url: `${base}/weights.h5`, file: 'w.h5', md5: OFFICIAL_NOTOP_WEIGHTS.vgg16!.md5 };
    await rejectsWithCxrError(downloadWeights(source, dir), 'WEIGHTS_INVALID', /not the published 6d6bbae143d832006294945121d1f1fc/);
    assert.deepEqual(fs.readdirSync(dir), []);
  });

  it('reports an HTTP error as NOT_FOUND', async () => {
    const dir = scratch('dl-404');
    await rejectsWithCxrError(downloadWeights({ url: `${base}/nothing`, file: 'x.h5', md5: '0' }, dir), 'NOT_FOUND', /HTTP 404/);
    assert.deepEqual(fs.readdirSync(dir), []);
  });

  it('knows the official Keras Applications address and published md5 of VGG16, and offers no unchecked MobileNetV2 download', () => {
    assert.deepEqual(OFFICIAL_NOTOP_WEIGHTS.vgg16, {
      url: 'https://storage.googleapis.com/tensorflow/keras-applications/vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5',
      file: 'vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5',
      md5: '6d6bbae143d832006294945121d1f1fc',
    });
    assert.equal(OFFICIAL_NOTOP_WEIGHTS.mobilenet_v2, undefined);
  });
});
