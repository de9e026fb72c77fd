// Unit tests of the room's screenshot gallery logic (no DOM): how many stills the timeline says
// were taken, a still's caption, the timeline's line. Run by `node --test tests/js/`.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import { stillCaption, stillsTaken } from '../../integration/web/static/console/js/gallery.js';
import { setTimeZone } from '../../integration/web/static/console/js/i18n.js';
import { timelineLine } from '../../integration/web/static/console/js/sessions.js';
import { useCatalogue } from './catalogue.js';

before(async () => {
  await useCatalogue('fr');
  setTimeZone('Europe/Paris');
});

describe('stills', () => {
  test('the timeline counts the stills taken, from any console', () => {
    assert.equal(stillsTaken({}), 0);
    const timeline = [
      { type: 'video.live' },
      { type: 'still.taken' },
      { type: 'video.viewer_joined' },
      { type: 'still.taken' },
    ];
    assert.equal(stillsTaken({ timeline }), 2);
  });

  test('a caption gives the number and the local time', () => {
    const still = {
      id: 'a',
      number: 3,
      taken_at: '2026-12-05T09:15:42+00:00',
      taken_by: 'regulateur',
      content_type: 'image/jpeg',
      size: 1000,
      url: '/x',
      filename: 'visio-2026-12-05-3.jpg',
    };
    assert.match(stillCaption(still), /^N°\u00a03 — 10:15(:42)?$/);
  });

  test("the timeline says who took a screenshot", () => {
    const session = /** @type {any} */ ({ invitations: [] });
    const line = timelineLine(session, {
      at: '2026-12-05T09:15:42Z',
      actor: 'regulateur',
      type: 'still.taken',
      details: { still_id: 'a' },
    });
    assert.equal(line.text, "Capture d'écran prise par regulateur");
    assert.equal(line.tone, 'normal');
  });
});
