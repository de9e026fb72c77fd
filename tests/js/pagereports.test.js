// Unit tests of the room's timeline lines for the patient page's own reports: an in-app view or
// a browser without camera access with what to tell the patient, a new video connection.
// Run by `node --test tests/js/`.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import { timelineLine } from '../../integration/web/static/console/js/sessions.js';
import { useCatalogue } from './catalogue.js';

const at = '2026-01-05T10:00:00+00:00';
/** A timeline line for an event of the patient. */
const line = (type, details) => timelineLine({ timeline: [], invitations: [] }, { type, details, actor: 'patient', at });

describe('the page’s reports in the timeline', () => {
  before(async () => {
    await useCatalogue('fr');
  });

  test('an in-app view names the app, says why and what to tell the patient', () => {
    const { text, tone } = line('patient.browser_unsupported', { reason: 'in_app_view', app: 'Facebook' });
    assert.equal(tone, 'failed');
    assert.ok(
      text.startsWith(
        "Le patient a ouvert le lien dans l'application Facebook\u00a0: pas d'accès à la caméra. Il doit l'ouvrir dans Chrome ou Safari.",
      ),
      text,
    );
    assert.match(text, /Ouvrir dans Chrome/);
    const unnamed = line('patient.browser_unsupported', { reason: 'in_app_view', app: null }).text;
    assert.match(unnamed, /l'aperçu d'une application/);
    const noApi = line('patient.browser_unsupported', { reason: 'no_camera_api', app: null }).text;
    assert.match(noApi, /ne donne pas accès à la caméra/);
  });

  test('each reconnection says why', () => {
    assert.equal(
      line('video.reconnecting', { reason: 'network_change' }).text,
      'Réseau du patient changé\u00a0: nouvelle connexion vidéo',
    );
    assert.match(line('video.reconnecting', { reason: 'ice_disconnected' }).text, /coupée/);
    assert.match(line('video.reconnecting', { reason: 'ice_failed' }).text, /échec/);
    assert.match(line('video.reconnecting', { reason: 'strange' }).text, /échec/);
  });
});

