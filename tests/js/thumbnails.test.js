// Unit tests of the room's pictures (no DOM): which one is the main picture, and the timeline's
// lines about third parties. Run by `node --test tests/js/`.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import { participantTimelineLine } from '../../integration/web/static/console/js/participants.js';
import { timelineLine } from '../../integration/web/static/console/js/sessions.js';
import { arrange } from '../../integration/web/static/console/js/thumbnails.js';
import { useCatalogue } from './catalogue.js';

before(async () => {
  await useCatalogue('fr');
});

describe('main picture and thumbnails', () => {
  test('the patient is the main picture by default, the others keep their order', () => {
    assert.deepEqual(arrange(['third_party:a', 'patient', 'third_party:b'], ''), {
      main: 'patient',
      thumbnails: ['third_party:a', 'third_party:b'],
    });
  });

  test('a clicked thumbnail becomes the main picture; the patient becomes a thumbnail', () => {
    assert.deepEqual(arrange(['patient', 'third_party:a'], 'third_party:a'), {
      main: 'third_party:a',
      thumbnails: ['patient'],
    });
  });

  test('a chosen camera that went away gives the main picture back to the patient', () => {
    assert.deepEqual(arrange(['patient', 'third_party:b'], 'third_party:a'), {
      main: 'patient',
      thumbnails: ['third_party:b'],
    });
  });

  test('without the patient, the first camera is the main picture; nothing, nothing', () => {
    assert.deepEqual(arrange(['third_party:a', 'third_party:b'], ''), {
      main: 'third_party:a',
      thumbnails: ['third_party:b'],
    });
    assert.deepEqual(arrange([], 'patient'), { main: '', thumbnails: [] });
  });
});

describe('third parties in the timeline', () => {
  const session = {
    invitations: [{ id: 'i2', role: 'third_party', channel: 'sms', destination: '+33655443322' }],
    people: {},
  };

  test('leaving, video and camera are said with the third party\'s number', () => {
    const left = /** @type {any} */ ({ at: '', actor: 'third_party', type: 'third_party.left', details: { invitation_id: 'i2' } });
    assert.equal(timelineLine(/** @type {any} */ (session), left).text, '06\u00a055\u00a044\u00a033\u00a022 (tierce personne) a quitté la visio');
    const live = /** @type {any} */ ({ at: '', actor: 'third_party', type: 'third_party.video_live', details: { invitation_id: 'i2' } });
    assert.equal(timelineLine(/** @type {any} */ (session), live).tone, 'good');
    const denied = /** @type {any} */ ({ type: 'third_party.camera', details: { state: 'denied' } });
    assert.equal(participantTimelineLine(denied, '').tone, 'failed');
    assert.equal(participantTimelineLine(/** @type {any} */ ({ type: 'video.live', details: {} }), 'x'), null);
  });
});
