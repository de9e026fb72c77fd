// Unit tests of the patient page's documents logic (no DOM): upload URLs, what a failure
// leads to, the retry delays, when a photo is made smaller and how. Run by `node --test tests/js/`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  RETRY_DELAYS_MS,
  failureKind,
  fitWithin,
  photoName,
  retryDelay,
  shouldShrink,
  uploadUrl,
} from '../../patient_page/static/js/uploads.js';

describe('patient documents', () => {
  test('uploads go under the link, the name encoded, a photo naming its command', () => {
    assert.equal(uploadUrl('/p/abc', 'plaie 1.jpg', 'document'), '/p/abc/documents?name=plaie%201.jpg');
    assert.equal(uploadUrl('/p/abc/', '../x&y=<b>.pdf', 'document'), '/p/abc/documents?name=..%2Fx%26y%3D%3Cb%3E.pdf');
    assert.equal(
      uploadUrl('/p/abc', 'photo.jpg', 'photo', 'c 1'),
      '/p/abc/documents?name=photo.jpg&kind=photo&command=c%201',
    );
  });

  test('a network failure or an overloaded service is tried again, a refusal is not', () => {
    for (const status of [0, 408, 429, 500, 502, 503]) {
      assert.equal(failureKind(status), 'retry', String(status));
    }
    for (const status of [400, 404, 409, 413, 415]) {
      assert.equal(failureKind(status), 'refused', String(status));
    }
  });

  test('retries wait longer each time, then the patient decides', () => {
    const delays = RETRY_DELAYS_MS.map((_, index) => retryDelay(index + 1));
    assert.deepEqual(delays, RETRY_DELAYS_MS);
    assert.ok(delays.every((delay, index) => index === 0 || Number(delay) > Number(delays[index - 1])));
    assert.equal(retryDelay(RETRY_DELAYS_MS.length + 1), null);
    assert.equal(retryDelay(0), null);
  });

  test('only a photo over the limit is made smaller; the original goes otherwise', () => {
    assert.equal(shouldShrink('image/jpeg', 25_000_000, 20_000_000), true);
    assert.equal(shouldShrink('image/jpeg', 19_000_000, 20_000_000), false);
    assert.equal(shouldShrink('image/heic', 25_000_000, 20_000_000), false, 'the browser cannot redraw it');
    assert.equal(shouldShrink('application/pdf', 25_000_000, 20_000_000), false);
  });

  test('a picture keeps its proportions within the largest side, never enlarged', () => {
    assert.deepEqual(fitWithin(8000, 6000, 4096), { width: 4096, height: 3072 });
    assert.deepEqual(fitWithin(3000, 9000, 2048), { width: 683, height: 2048 });
    assert.deepEqual(fitWithin(640, 480, 4096), { width: 640, height: 480 });
  });

  test('a photo for the regulator is named by its time', () => {
    assert.equal(photoName(new Date(2026, 11, 5, 9, 7, 3)), 'photo-hd-20261205-090703.jpg');
  });
});
