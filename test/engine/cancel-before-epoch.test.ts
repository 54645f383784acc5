/**
 * A training cancelled before its first epoch finished, at a known point (the abort is fired from the engine's own
 * progress event, so no timing decides where it lands): it ends as a cancelled run with no model, never as a failed
 * request, and the run store says it has no model (issue 8, bug 4; the client's side is in test/e2e/workbench.test.ts).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import type { TrainEvent } from '../../server/src/engine/api';
import { Engine } from '../../server/src/engine/engine';
import { readRunDetails } from '../../server/src/engine/runStore';
import { scratchDirFactory } from '../helpers/scratch';
import { CI_TINY, MOBILENET_NOTOP_MANIFEST, requireShared } from '../helpers/shared';

const scratch = scratchDirFactory();

describe('a training cancelled before any epoch finished', () => {
  const engine = new Engine();

  /** Trains ci-tiny and aborts at the first event `when` accepts; returns the result and every event seen. */
  async function cancelAt(name: string, when: (e: TrainEvent) => boolean) {
    const out = path.join(scratch(`cancel-${name}`), 'run');
    const abort = new AbortController();
    const events: TrainEvent[] = [];
    const result = await engine.train(
      { data: requireShared(CI_TINY), out, backbone: 'mobilenet_v2', weights: requireShared(MOBILENET_NOTOP_MANIFEST), epochs: 3, seed: 5 },
      (e) => {
        events.push(e);
        if (!abort.signal.aborted && when(e)) abort.abort();
      },
      abort.signal,
    );
    assert.ok(abort.signal.aborted, `the abort point never came: ${events.map((e) => e.kind === 'phase' ? e.message : e.kind).join(' | ')}`);
    return { out, result, events };
  }

  function assertNoModel(out: string, result: Awaited<ReturnType<Engine['train']>>, events: TrainEvent[]): void {
    assert.equal(result.status, 'cancelled');
    assert.equal(result.epochsRun, 0);
    assert.equal(result.bestEpoch, null);
    assert.ok(!events.some((e) => e.kind === 'epoch'), 'an epoch finished');
    const details = readRunDetails(out);
    assert.equal(details.summary.status, 'cancelled');
    assert.equal(details.summary.hasModel, false);
    assert.match(fs.readFileSync(path.join(out, 'status.json'), 'utf8'), /no epoch had finished, so there is no model/);
  }

  it('during the dataset audit: a cancelled run without a model, not a failed request', async () => {
    const { out, result, events } = await cancelAt('audit', (e) => e.kind === 'phase' && /auditing the dataset/.test(e.message));
    assertNoModel(out, result, events);
    assert.ok(!events.some((e) => e.kind === 'phase' && e.phase === 'training'), 'training started after the cancel');
  });

  it('during the frozen-layer pass over the training images', async () => {
    const { out, result, events } = await cancelAt('features', (e) => e.kind === 'phase' && e.phase === 'features' && e.done !== undefined);
    assertNoModel(out, result, events);
  });
});
