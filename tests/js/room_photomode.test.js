// Unit tests of the room in photo mode (no DOM): whether the session's patient sends photos now,
// and which photo the video panel shows. Run by `node --test tests/js/`.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import { setTimeZone } from '../../integration/web/static/console/js/i18n.js';
import { photoModeOf } from '../../integration/web/static/console/js/photomode.js';
import { useCatalogue } from './catalogue.js';

before(async () => {
  await useCatalogue('fr');
  setTimeZone('Europe/Paris');
});

/**
 * @param {string} type
 * @param {string} at
 * @param {Record<string, any>} [details]
 */
function event(type, at, details = {}) {
  return { type, at: `2026-12-05T10:${at}Z`, actor: 'patient', details };
}

/**
 * @param {string} id
 * @param {string} at
 * @param {string} [contentType]
 */
function photo(id, at, contentType = 'image/jpeg') {
  return event('photo.taken', at, { document_id: id, direction: 'from_patient', content_type: contentType });
}

describe('the room in photo mode', () => {
  test('on from video.photo_mode until video.photo_mode_ended, off once the session ended', () => {
    const entered = [event('camera.allowed', '00:00'), event('video.photo_mode', '00:09', { reason: 'weak_link' })];
    assert.equal(photoModeOf({ state: 'camera_allowed', timeline: entered.slice(0, 1) }), null);
    assert.deepEqual(photoModeOf({ state: 'camera_allowed', timeline: entered }), {
      reason: 'weak_link',
      since: '2026-12-05T10:00:09Z',
      photo: null,
    });
    const ended = [...entered, event('video.photo_mode_ended', '01:00')];
    assert.equal(photoModeOf({ state: 'video_live', timeline: ended }), null);
    assert.equal(photoModeOf({ state: 'ended', timeline: entered }), null);
    const left = [...entered, event('patient.left', '00:30')];
    assert.equal(photoModeOf({ state: 'video_lost', timeline: left }), null, 'the patient stopped');
    const again = [...ended, event('video.photo_mode', '02:00', { reason: 'no_frames' })];
    assert.equal(photoModeOf({ state: 'video_live', timeline: again })?.reason, 'no_frames');
  });

  test("the panel shows the patient's latest photo since photo mode began, never an older one", () => {
    const timeline = [
      photo('old', '00:01'),
      event('video.photo_mode', '00:09', { reason: 'no_frames' }),
      photo('first', '00:12'),
      photo('heic', '00:20', 'image/heic'),
      event('document.sent', '00:25', { document_id: 'to-patient', direction: 'to_patient', content_type: 'image/png' }),
      photo('second', '00:30'),
      event('still.taken', '00:31'),
    ];
    assert.deepEqual(photoModeOf({ state: 'camera_allowed', timeline })?.photo, {
      id: 'second',
      at: '2026-12-05T10:00:30Z',
    });
    assert.equal(photoModeOf({ state: 'camera_allowed', timeline: timeline.slice(0, 2) })?.photo, null);
    assert.deepEqual(photoModeOf({ state: 'camera_allowed', timeline: timeline.slice(0, 4) })?.photo?.id, 'first');
  });
});
