// Unit tests of the screen share and the pop-out's logic (no DOM): what the regulator reads when
// a share ends or cannot start, the timeline's lines, the pop-out window's address, name and
// status, and the patient page's retry delays. Run by `node --test tests/js/`.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import { setTimeZone, t } from '../../integration/web/static/console/js/i18n.js';
import {
  canPictureInPicture,
  popoutName,
  popoutStatus,
  popoutUrl,
  sessionIdOf,
} from '../../integration/web/static/console/js/popout.js';
import {
  canShareScreen,
  captureFailureKey,
  screenTimelineLine,
  stoppedKey,
} from '../../integration/web/static/console/js/screenshare.js';
import { timelineLine } from '../../integration/web/static/console/js/sessions.js';
import { RETRY_DELAYS_MS, retryDelay } from '../../patient_page/static/js/screen.js';
import { useCatalogue } from './catalogue.js';

before(async () => {
  await useCatalogue('fr');
  setTimeZone('Europe/Paris');
});

const NBSP = '\u00a0';

describe('screen share', () => {
  test('a share that ends says why, in words', () => {
    assert.equal(t(stoppedKey('stopped')), "Partage d'écran arrêté.");
    assert.equal(t(stoppedKey('connection_lost')), `Partage d'écran interrompu${NBSP}: la connexion a été perdue.`);
    assert.equal(t(stoppedKey('session_ended')), "Partage d'écran terminé avec la visio.");
    assert.equal(stoppedKey('anything else'), 'screen.stopped');
  });

  test('a capture refused in the picker is a cancellation, not a failure', () => {
    assert.equal(captureFailureKey({ name: 'NotAllowedError' }), 'screen.cancelled');
    assert.equal(captureFailureKey({ name: 'AbortError' }), 'screen.cancelled');
    assert.equal(captureFailureKey({ name: 'NotSupportedError' }), 'screen.unsupported');
    assert.equal(captureFailureKey(new TypeError('no getDisplayMedia')), 'screen.unsupported');
    assert.equal(captureFailureKey({ name: 'NotReadableError' }), 'screen.failed');
    assert.equal(captureFailureKey(undefined), 'screen.failed');
    assert.equal(t('screen.cancelled'), `Partage annulé${NBSP}: aucun écran choisi.`);
  });

  test('a browser without getDisplayMedia cannot share', () => {
    assert.equal(canShareScreen(/** @type {any} */ ({})), false);
    assert.equal(canShareScreen(/** @type {any} */ ({ mediaDevices: {} })), false);
    assert.equal(canShareScreen(/** @type {any} */ ({ mediaDevices: { getDisplayMedia() {} } })), true);
  });

  test('the timeline says who shared and how it ended', () => {
    const session = { timeline: [], invitations: [], people: { regulateur: 'Dr Martin' } };
    const line = (type, details = {}) =>
      timelineLine(/** @type {any} */ (session), /** @type {any} */ ({ type, actor: 'regulateur', details, at: '2026-01-01T10:00:00Z' }));
    assert.deepEqual(line('screen.started'), { text: 'Dr Martin partage son écran avec le patient', tone: 'normal' });
    assert.deepEqual(line('screen.stopped', { reason: 'stopped' }), { text: "Dr Martin arrête le partage d'écran", tone: 'normal' });
    assert.deepEqual(line('screen.stopped', { reason: 'connection_lost' }), {
      text: `Partage d'écran de Dr Martin interrompu${NBSP}: connexion perdue`,
      tone: 'failed',
    });
    assert.deepEqual(line('screen.stopped', { reason: 'console_left' }), {
      text: `Partage d'écran de Dr Martin arrêté${NBSP}: console fermée`,
      tone: 'muted',
    });
    assert.equal(screenTimelineLine({ type: 'video.live' }, 'x'), null);
  });
});

describe('pop-out', () => {
  test('one window per session, at its own address', () => {
    assert.equal(popoutUrl('abc123'), '/console/sessions/abc123/video');
    assert.equal(popoutUrl('a/b?c'), '/console/sessions/a%2Fb%3Fc/video');
    assert.equal(popoutName('abc-123'), 'visioregul-video-abc-123');
    assert.equal(popoutName('a/b c'), 'visioregul-video-abc');
    assert.equal(sessionIdOf('/console/sessions/abc123/video'), 'abc123');
    assert.equal(sessionIdOf(popoutUrl('a/b?c')), 'a/b?c');
    assert.equal(sessionIdOf('/console/sessions/%E0%A4%A/video'), '');
    assert.equal(sessionIdOf('/console'), '');
  });

  test('picture-in-picture only where the browser has it', () => {
    assert.equal(canPictureInPicture({}), false);
    assert.equal(canPictureInPicture({ documentPictureInPicture: {} }), false);
    assert.equal(canPictureInPicture({ documentPictureInPicture: { requestWindow() {} } }), true);
  });

  test('the window says what its video is doing, the end first', () => {
    const state = { ended: false, unknown: false, playing: false, connected: true };
    assert.deepEqual(popoutStatus(state), { key: 'popout.waiting', tone: 'wait' });
    assert.deepEqual(popoutStatus({ ...state, playing: true }), { key: 'popout.live', tone: 'live' });
    assert.deepEqual(popoutStatus({ ...state, playing: true, connected: false }), {
      key: 'popout.reconnecting',
      tone: 'wait',
    });
    assert.deepEqual(popoutStatus({ ...state, ended: true, connected: false }), { key: 'popout.ended', tone: 'ended' });
    assert.deepEqual(popoutStatus({ ...state, ended: true, unknown: true }), { key: 'popout.unknown', tone: 'error' });
    assert.equal(t('popout.ended'), 'Vidéo terminée');
  });
});

describe('the patient page', () => {
  test('a lost subscription is asked for again, less and less often', () => {
    assert.deepEqual(
      [0, 1, 2, 3, 4, 50, -1].map(retryDelay),
      [500, 1000, 2000, 4000, 4000, 4000, 500],
    );
    assert.equal(RETRY_DELAYS_MS.length, 4);
  });
});
