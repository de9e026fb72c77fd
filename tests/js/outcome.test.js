// Unit tests of the session outcome's wording (no DOM): the sentences and next steps the room
// shows for each outcome the service reads from the log, the line over a frozen picture, and the
// timeline lines of stalls and reminders (the path's events are the path module's). Run by `node --test tests/js/`.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import { pathTimelineLine } from '../../integration/web/static/console/js/netpath.js';
import { outcomeLines, outcomeTimelineLine, placeholderLines, stepLabel, videoNotice } from '../../integration/web/static/console/js/outcome.js';
import { timelineLine } from '../../integration/web/static/console/js/sessions.js';
import { useCatalogue } from './catalogue.js';

const NBSP = '\u00a0';
/** A session for its timeline's lines. */
const SESSION = /** @type {any} */ ({ id: 's1', state: 'live', invitations: [], timeline: [] });

/**
 * @param {string} kind
 * @param {object} [extra]
 */
function outcome(kind, extra = {}) {
  return { kind, tone: 'warning', final: false, next_steps: [], details: {}, at: null, ...extra };
}

before(async () => {
  await useCatalogue('fr');
});

describe('the outcome in the room', () => {
  test('a link not opened for 2 minutes asks whether to send it again, or by e-mail', () => {
    const lines = outcomeLines(outcome('link_not_opened', { details: { channel: 'sms', minutes: 2 } }));
    assert.equal(lines.title, `Le lien n'a pas été ouvert depuis 2${NBSP}min${NBSP}: renvoyer${NBSP}? par e‑mail${NBSP}?`);
    assert.equal(lines.tone, 'warning');
  });

  test('a video established names its path and round trip', () => {
    const lines = outcomeLines(outcome('video_established', { tone: 'good', details: { path: 'turn-tcp', rtt_ms: 120 } }));
    assert.equal(lines.title, `Vidéo établie (relais TURN TCP, 120${NBSP}ms)`);
    assert.equal(lines.next, '');
    assert.equal(outcomeLines(outcome('video_established')).title, 'Vidéo établie');
  });

  test('each kind has a French sentence, and a next step while the session runs', () => {
    const kinds = [
      'not_delivered', 'link_not_opened', 'browser_unsupported', 'camera_refused', 'camera_unavailable',
      'no_path', 'network_weak', 'photos_only', 'video_frozen', 'video_lost', 'patient_left',
    ];
    for (const kind of kinds) {
      const lines = outcomeLines(outcome(kind));
      assert.ok(lines.title && !lines.title.startsWith('outcome.'), kind);
      assert.ok(lines.next && !lines.next.startsWith('outcome.'), kind);
    }
    assert.equal(
      outcomeLines(outcome('browser_unsupported')).next,
      "Demander au patient d'ouvrir le lien dans Chrome ou Safari.",
    );
  });

  test('an ended session says how it ended, without a next step where none is left', () => {
    const lines = outcomeLines(outcome('network_weak', { final: true, details: { photos: 3 } }));
    assert.equal(lines.next, `Photos reçues${NBSP}: 3`);
    assert.equal(outcomeLines(outcome('video_established', { final: true })).next, '');
  });

  test('an ended session with interruptions counts them', () => {
    const lines = outcomeLines(outcome('video_established', { final: true, details: { interruptions: 2 } }));
    assert.equal(lines.next, `Interrompue 2${NBSP}fois en cours de visio.`);
  });

  test('an unknown kind still reads as a sentence', () => {
    assert.equal(outcomeLines(outcome('something_new')).title, 'Situation inconnue');
  });

  test('the buttons say what they do, on the link\'s channel', () => {
    assert.equal(stepLabel('retry', 'sms'), 'Renvoyer le SMS');
    assert.equal(stepLabel('resend', 'email'), 'Renvoyer le lien par e‑mail');
    assert.equal(stepLabel('email', 'sms'), 'Envoyer le lien par e‑mail');
    assert.equal(stepLabel('photo', 'sms'), 'Demander une photo');
  });
});

describe('the picture and the timeline', () => {
  test('the video area says why no video comes, while the session runs', () => {
    assert.equal(placeholderLines(outcome('no_path'))?.title, 'La vidéo ne passe pas le réseau du patient');
    assert.equal(placeholderLines(outcome('no_path', { final: true })), null);
    assert.equal(placeholderLines(outcome('video_established')), null);
  });

  test('a frozen picture or a reconnection is written over the last frame, nothing else', () => {
    assert.equal(videoNotice(outcome('video_frozen')), 'frozen');
    assert.equal(videoNotice(outcome('video_lost')), 'interrupted');
    assert.equal(videoNotice(outcome('video_established')), '');
    assert.equal(videoNotice(outcome('video_lost', { final: true })), '');
    assert.equal(videoNotice(undefined), '');
  });

  test('stalls, resumes and reminders have their lines', () => {
    const at = '2026-01-01T12:00:00+00:00';
    assert.deepEqual(outcomeTimelineLine({ at, actor: 'system', type: 'video.stalled', details: {} }), {
      text: `Image du patient figée${NBSP}: plus aucune image reçue`,
      tone: 'failed',
    });
    assert.equal(
      outcomeTimelineLine({ at, actor: 'system', type: 'video.resumed', details: { stalled_ms: 3400 } })?.text,
      `Image du patient revenue après 3${NBSP}s`,
    );
    assert.equal(
      outcomeTimelineLine({ at, actor: 'system', type: 'link.not_opened', details: { channel: 'sms', minutes: 2 } })?.text,
      `Lien non ouvert 2${NBSP}min après l'envoi du SMS`,
    );
    assert.equal(
      outcomeTimelineLine({ at, actor: 'patient', type: 'patient.browser_unsupported', details: { app: 'Facebook' } })?.text,
      'Lien ouvert dans Facebook, sans accès à la caméra',
    );
    // The path's events are worded once, by the path's module, whatever reads them.
    for (const event of [
      { at, actor: 'system', type: 'video.path', details: { path: 'turn-tls', rtt_ms: 80 } },
      { at, actor: 'patient', type: 'video.no_path', details: { reason: 'turn_refused' } },
    ]) {
      assert.equal(outcomeTimelineLine(event), null);
      assert.deepEqual(timelineLine(SESSION, event), pathTimelineLine(event));
    }
    assert.equal(
      timelineLine(SESSION, { at, actor: 'system', type: 'video.path', details: { path: 'turn-tls', rtt_ms: 80 } }).text,
      `Chemin de la vidéo${NBSP}: Vidéo par relais TURN (TCP/TLS) — aller-retour 80 ms`,
    );
    assert.equal(outcomeTimelineLine({ at, actor: 'system', type: 'video.live', details: {} }), null);
  });
});
