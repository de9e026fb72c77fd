// Unit tests of the console's alerts (which session event alerts, the tab's title, the stored
// settings) and of the patient page's text limits. Run by `node --test tests/js/`.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import { ALERT_KINDS, alertKindOf, alertTitle, parseOff } from '../../integration/web/static/console/js/notify.js';
import { t } from '../../integration/web/static/console/js/i18n.js';
import { timelineLine } from '../../integration/web/static/console/js/sessions.js';
import { MAX_TEXT, TEXT_ERRORS } from '../../patient_page/static/js/texts.js';
import { useCatalogue } from './catalogue.js';

before(async () => {
  await useCatalogue('fr');
});

describe('alertKindOf', () => {
  test('the link opened by the patient, the video live or lost and a text from the patient alert', () => {
    const none = new Set();
    assert.equal(alertKindOf({ type: 'link.opened', details: { role: 'patient' } }, none), 'link_opened');
    assert.equal(alertKindOf({ type: 'video.live', details: {} }, none), 'video_live');
    assert.equal(alertKindOf({ type: 'video.lost', details: {} }, none), 'video_lost');
    assert.equal(alertKindOf({ type: 'text.received', details: { text: 'aide' } }, none), 'text_received');
  });

  test("the regulator's own steps and routine events do not", () => {
    const none = new Set();
    for (const type of ['text.sent', 'session.created', 'invitation.sent', 'video.viewer_joined', 'camera.allowed']) {
      assert.equal(alertKindOf({ type, details: {} }, none), null, type);
    }
    assert.equal(alertKindOf({ type: 'link.opened', details: { role: 'third_party' } }, none), null);
  });

  test('a kind turned off stays silent, the others still alert', () => {
    const off = new Set(['video_live']);
    assert.equal(alertKindOf({ type: 'video.live' }, off), null);
    assert.equal(alertKindOf({ type: 'video.lost' }, off), 'video_lost');
  });

  test('every kind has its setting label and its title in the catalogue', async () => {
    for (const language of ['fr', 'en']) {
      await useCatalogue(language);
      for (const { kind } of ALERT_KINDS) {
        assert.notEqual(t(`notify.kind.${kind}`), `notify.kind.${kind}`);
        assert.notEqual(t(`notify.title.${kind}`), `notify.title.${kind}`);
      }
    }
    await useCatalogue('fr');
  });
});

describe('alertTitle', () => {
  test('counts the alerts not seen and says the last one', () => {
    assert.equal(alertTitle('Visio — 06 12 34 56 78 — VisioRegul', 1, 'Vidéo reçue'), '(1) Vidéo reçue — VisioRegul');
    assert.equal(alertTitle('VisioRegul', 3, 'Message du patient'), '(3) Message du patient — VisioRegul');
  });

  test('no alert waiting: the page keeps its own title', () => {
    assert.equal(alertTitle('Historique — VisioRegul', 0, 'Vidéo reçue'), 'Historique — VisioRegul');
  });
});

describe('parseOff', () => {
  test('reads the stored list, and forgives anything else', () => {
    assert.deepEqual([...parseOff('["video_live","text_received"]')], ['video_live', 'text_received']);
    assert.deepEqual([...parseOff(null)], []);
    assert.deepEqual([...parseOff('{oops')], []);
    assert.deepEqual([...parseOff('{"a":1}')], []);
    assert.deepEqual([...parseOff('[1, "video_lost"]')], ['video_lost']);
  });
});

describe('texts', () => {
  test('the timeline quotes each message and who wrote it', () => {
    const session = { invitations: [] };
    const sent = timelineLine(session, { at: '', actor: 'regulateur', type: 'text.sent', details: { text: 'Approchez-vous' } });
    assert.match(sent.text, /^Message au patient, par .+\u00a0: «\u00a0Approchez-vous\u00a0»$/);
    const received = timelineLine(session, { at: '', actor: 'patient', type: 'text.received', details: { text: '<b>aide</b>' } });
    assert.equal(received.text, 'Message du patient\u00a0: «\u00a0<b>aide</b>\u00a0»');
  });

  test("the page's limits are the service's", () => {
    assert.equal(MAX_TEXT, 500);
    assert.deepEqual([...TEXT_ERRORS].sort(), ['invalid_text', 'text_too_long', 'too_many_texts']);
  });
});
