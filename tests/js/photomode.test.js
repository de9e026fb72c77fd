// Unit tests of photo mode's decisions (no DOM; the link's verdict that starts and ends it is
// linkadapt's, tested in linkadapt.test.js): the compression steps and the loop
// that stops at the first photo that fits, the interval between photos, the video trials, the link read from an upload's rate, and
// what a resumable upload does after each reply. Run by `node --test tests/js/`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  BURST_BYTES,
  BURST_MS,
  LINK_BACK_BPS,
  MAX_INTERVAL_MS,
  MIN_INTERVAL_MS,
  RATE_SETTLE_MS,
  RATE_WINDOW_MS,
  UploadRate,
  udpTurnServers,
  compressionPlan,
  fitSize,
  photoFileName,
  photoInterval,
  videoRetryDelay,
  wholeRate,
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

describe('photo mode: the link read from an upload', () => {
  test('an upload younger than its settling time and a window tells nothing', () => {
    const rate = new UploadRate(0);
    assert.equal(rate.add(100, 60_000), null); // the socket's buffer filling
    assert.equal(rate.add(RATE_SETTLE_MS, 60_000), null);
    assert.equal(rate.add(RATE_SETTLE_MS + RATE_WINDOW_MS - 1, 61_000), null);
  });

  test('the rate is read over the last window, from the newest sample at least that old', () => {
    const rate = new UploadRate(0);
    rate.add(500, 10_000);
    rate.add(1000, 11_000);
    // 2000 bytes a second after the settling: 16 kbit/s, a dip.
    assert.equal(rate.add(1500, 12_000), 16_000);
    rate.add(2000, 13_000);
    // The link back: 100 kB in the half second since the newest sample a window old.
    const back = rate.add(2600, 113_000);
    assert.ok(back !== null && back >= LINK_BACK_BPS, `${back}`);
    assert.equal(back, ((113_000 - 12_000) * 8 * 1000) / 1100);
  });

  test('a long silence then a burst still reads the burst over the silence', () => {
    const rate = new UploadRate(0);
    rate.add(600, 20_000);
    // Nothing moved for 8 s (the dip's queue), then 150 kB crossed at once.
    const back = rate.add(8600, 170_000);
    assert.equal(back, (150_000 * 8 * 1000) / 8000);
    assert.ok(back !== null && back < LINK_BACK_BPS, 'spread over the silence, it does not tell');
    const next = rate.add(9700, 600_000);
    assert.ok(next !== null && next >= LINK_BACK_BPS);
  });

  test('a burst between two close readings tells the rate at once, even after a silence', () => {
    const rate = new UploadRate(0);
    rate.add(600, 20_000);
    rate.add(8600, 21_000); // the dip's queue: one packet in 8 s
    const burst = rate.add(8600 + BURST_MS - 50, 21_000 + BURST_BYTES + 8000);
    assert.equal(burst, ((BURST_BYTES + 8000) * 8 * 1000) / (BURST_MS - 50));
    assert.ok(burst !== null && burst >= LINK_BACK_BPS);
  });

  test('small steps close together are no burst', () => {
    const rate = new UploadRate(0);
    rate.add(600, 20_000);
    assert.equal(rate.add(700, 21_500), null);
  });

  test('a whole upload reads as its bytes over its time', () => {
    assert.equal(wholeRate(200_000, 1000), 1_600_000);
    assert.ok(wholeRate(200_000, 0) > LINK_BACK_BPS, 'never a division by zero');
    assert.ok(wholeRate(200_000, 100_000) < LINK_BACK_BPS);
  });
});

describe('photo mode: the relay asked while a photo goes out', () => {
  test('only a TURN server over UDP is asked, with its credentials', () => {
    const servers = [
      { urls: 'stun:stun.example:3478' },
      {
        urls: ['turns:turn.example:443?transport=tcp', 'turn:turn.example:3478?transport=udp', 'turn:turn.example:3478'],
        username: 'u',
        credential: 'c',
      },
    ];
    assert.deepEqual(udpTurnServers(servers), [
      { urls: ['turn:turn.example:3478?transport=udp'], username: 'u', credential: 'c' },
    ]);
  });

  test('no TURN server over UDP: nothing to ask', () => {
    assert.deepEqual(udpTurnServers([{ urls: 'turn:turn.example:3478?transport=tcp', username: 'u', credential: 'c' }]), []);
    assert.deepEqual(udpTurnServers([]), []);
  });
});
