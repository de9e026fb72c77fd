// Unit tests of photo mode's decisions (no DOM; the link's verdict that starts and ends it is
// linkadapt's, tested in linkadapt.test.js): the compression steps and the loop
// that stops at the first photo that fits, the interval between photos, the video trials, and
// what a resumable upload does after each reply. Run by `node --test tests/js/`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  MAX_INTERVAL_MS,
  MIN_INTERVAL_MS,
  compressionPlan,
  fitSize,
  photoFileName,
  photoInterval,
  videoRetryDelay,
} from '../../patient_page/static/js/photomode.js';
import { RESUME_DELAYS_MS, resumableUrl, resumeDelay, resumeMove } from '../../patient_page/static/js/uploads.js';

describe('photo mode: the photo', () => {
  test('steps go from the best to the smallest, never enlarged, none twice', () => {
    const plan = compressionPlan(4000, 3000);
    assert.deepEqual(plan[0], { width: 1920, height: 1440, quality: 0.8 });
    assert.deepEqual(plan.at(-1), { width: 480, height: 360, quality: 0.45 });
    for (let i = 1; i < plan.length; i += 1) {
      const before = plan[i - 1];
      const step = plan[i];
      assert.ok(step.width < before.width || (step.width === before.width && step.quality < before.quality), JSON.stringify(step));
    }
    const small = compressionPlan(640, 480);
    assert.ok(small.every((step) => step.width <= 640 && step.height <= 480));
    assert.equal(new Set(small.map((step) => `${step.width}x${step.height}@${step.quality}`)).size, small.length);
  });

  test('the loop stops at the first result that fits', async () => {
    const plan = compressionPlan(1920, 1080);
    const sizes = [900_000, 450_000, 210_000, 180_000, 90_000];
    const tried = [];
    const { result, tries } = await fitSize(
      plan,
      async (step) => {
        tried.push(step);
        return { size: sizes[tried.length - 1] ?? 1, step };
      },
      200_000,
    );
    assert.equal(tries, 4);
    assert.equal(result.size, 180_000);
    assert.deepEqual(result.step, plan[3]);
  });

  test('when nothing fits, the smallest result goes', async () => {
    const plan = compressionPlan(1920, 1080);
    let n = 0;
    const { result, tries } = await fitSize(plan, async () => ({ size: [500_000, 300_000, 400_000][n++ % 3] }), 200_000);
    assert.equal(tries, plan.length);
    assert.equal(result.size, 300_000);
  });

  test('photos are spaced by three times the last upload, within bounds', () => {
    assert.equal(photoInterval(0), MIN_INTERVAL_MS);
    assert.equal(photoInterval(5_000), 15_000);
    assert.equal(photoInterval(120_000), MAX_INTERVAL_MS);
  });

  test('video is tried again later and later', () => {
    assert.ok(videoRetryDelay(1) < videoRetryDelay(2));
    assert.equal(videoRetryDelay(10), videoRetryDelay(3));
  });

  test('a photo is named by its time', () => {
    assert.equal(photoFileName(new Date(2026, 11, 5, 9, 4, 7)), 'photo-20261205-090407.jpg');
  });
});

describe('resumable uploads', () => {
  test('announced under the link with the size', () => {
    assert.equal(resumableUrl('/p/abc/', 'a b.jpg', 'photo', 'c1', 1234), '/p/abc/uploads?name=a%20b.jpg&kind=photo&command=c1&size=1234');
  });

  test('after a cut or a busy service: ask and go on; a forgotten upload starts over; a refusal stops', () => {
    for (const status of [0, 408, 409, 429, 500, 503]) {
      assert.equal(resumeMove(status, {}), 'retry', String(status));
    }
    assert.equal(resumeMove(404, { error_id: 'upload_not_found' }), 'restart');
    for (const [status, error] of [
      [404, 'document_link_refused'],
      [413, 'document_too_large'],
      [415, 'photo_not_image'],
      [400, 'invalid_request'],
    ]) {
      assert.equal(resumeMove(status, { error_id: error }), 'refused', error);
    }
  });

  test('the waits grow, then stay at the longest: an upload goes on until it arrives', () => {
    assert.equal(resumeDelay(1), RESUME_DELAYS_MS[0]);
    assert.ok(resumeDelay(3) > resumeDelay(2));
    assert.equal(resumeDelay(100), RESUME_DELAYS_MS.at(-1));
  });
});
