// Unit tests of the room's documents logic (no DOM): how many documents the timeline counts,
// sizes, captions, the timeline's lines and the alert they give. Run by `node --test tests/js/`.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import {
  documentCaption,
  documentsExchanged,
  photoModeDocuments,
  documentTimelineLine,
  formatSize,
} from '../../integration/web/static/console/js/documents.js';
import { setTimeZone } from '../../integration/web/static/console/js/i18n.js';
import { alertKindOf } from '../../integration/web/static/console/js/notify.js';
import { timelineLine } from '../../integration/web/static/console/js/sessions.js';
import { useCatalogue } from './catalogue.js';

const NBSP = '\u00a0';

before(async () => {
  await useCatalogue('fr');
  setTimeZone('Europe/Paris');
});

describe('documents in the room', () => {
  test('the timeline counts documents and photos both ways, nothing else', () => {
    assert.equal(documentsExchanged({}), 0);
    const timeline = [
      { type: 'document.sent' },
      { type: 'still.taken' },
      { type: 'document.received' },
      { type: 'photo.taken' },
      { type: 'command.sent' },
    ];
    assert.equal(documentsExchanged({ timeline }), 3);
  });

  test('sizes read in kilobytes or megabytes, French style', () => {
    assert.equal(formatSize(12), `1${NBSP}ko`);
    assert.equal(formatSize(850_000), `850${NBSP}ko`);
    assert.equal(formatSize(4_230_000), `4,2${NBSP}Mo`);
    assert.equal(formatSize(20_000_000), `20${NBSP}Mo`);
  });

  test('a caption says which way, when and how large', () => {
    const base = { id: 'a', name: 'plaie.jpg', content_type: 'image/jpeg', size: 2_500_000, sent_by: 'patient', url: '/x' };
    const at = '2026-12-05T09:07:00+00:00';
    assert.equal(
      documentCaption({ ...base, kind: 'document', direction: 'from_patient', sent_at: at }),
      `Reçu du patient à 10:07:00 · 2,5${NBSP}Mo`,
    );
    assert.equal(
      documentCaption({ ...base, kind: 'photo', direction: 'from_patient', sent_at: at }),
      `Photo HD reçue à 10:07:00 · 2,5${NBSP}Mo`,
    );
    // A photo the phone sent by itself in photo mode is no "Photo HD".
    assert.equal(
      documentCaption({ ...base, kind: 'photo', direction: 'from_patient', sent_at: at }, true),
      `Photo reçue (mode photo) à 10:07:00 · 2,5${NBSP}Mo`,
    );
    assert.equal(
      documentCaption({ ...base, kind: 'document', direction: 'to_patient', sent_at: at }),
      `Envoyé au patient à 10:07:00 · 2,5${NBSP}Mo`,
    );
  });

  test('the photos sent in photo mode are known from the timeline; a Photo HD is not one', () => {
    const taken = (id, details) => ({ type: 'photo.taken', details: { document_id: id, ...details } });
    const session = {
      timeline: [
        taken('hd', { command_id: 'c1' }),
        taken('auto', { photo_mode: true }),
        taken('asked', { photo_mode: true, command_id: 'c2' }),
        { type: 'document.received', details: { document_id: 'pdf' } },
      ],
    };
    assert.deepEqual([...photoModeDocuments(session)].sort(), ['asked', 'auto']);
    assert.equal(photoModeDocuments({}).size, 0);
  });

  test('each transfer has its line in the timeline', () => {
    const details = { name: 'fiche.pdf' };
    assert.deepEqual(documentTimelineLine({ type: 'document.sent', details }, 'Dr Martin'), {
      text: `Document envoyé au patient par Dr Martin${NBSP}: fiche.pdf`,
      tone: 'normal',
    });
    assert.equal(documentTimelineLine({ type: 'video.live' }, 'x'), null);
    const event = { type: 'photo.taken', actor: 'patient', at: '2026-12-05T09:07:00+00:00', details: { name: 'photo.jpg' } };
    const line = timelineLine(/** @type {any} */ ({ invitations: [] }), /** @type {any} */ (event));
    assert.match(JSON.stringify(line), /Photo HD reçue du téléphone/);
  });

  test('a document or a photo from the patient alerts, one sent by the regulator does not', () => {
    const none = new Set();
    assert.equal(alertKindOf({ type: 'document.received' }, none), 'document_received');
    assert.equal(alertKindOf({ type: 'photo.taken' }, none), 'document_received');
    assert.equal(alertKindOf({ type: 'document.sent' }, none), null);
    assert.equal(alertKindOf({ type: 'document.received' }, new Set(['document_received'])), null);
  });
});
