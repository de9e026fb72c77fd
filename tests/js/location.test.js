// Unit tests of the caller's position (no DOM): the map links, what the room's panel makes of the
// session's log, the timeline's lines, and the patient page's errors and follow throttle.
// Run by `node --test tests/js/`.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import { setTimeZone } from '../../integration/web/static/console/js/i18n.js';
import {
  failureKey,
  formatAccuracy,
  formatCoordinates,
  locationTimelineLine,
  locationView,
  mapLinks,
} from '../../integration/web/static/console/js/location.js';
import { timelineLine } from '../../integration/web/static/console/js/sessions.js';
import {
  FOLLOW_INTERVAL_MS,
  distanceMetres,
  fixFrom,
  locationError,
  worthSending,
} from '../../patient_page/static/js/location.js';
import { useCatalogue } from './catalogue.js';

before(async () => {
  await useCatalogue('fr');
  setTimeZone('Europe/Paris');
});

const FIX = { latitude: 49.894067, longitude: 2.295753, accuracy: 12 };

describe('the regulator panel', () => {
  test('the map links point at the position', () => {
    assert.deepEqual(mapLinks(49.894067, 2.295753), {
      google: 'https://www.google.com/maps/search/?api=1&query=49.894067,2.295753',
      osm: 'https://www.openstreetmap.org/?mlat=49.894067&mlon=2.295753#map=18/49.894067/2.295753',
    });
  });

  test('coordinates and accuracy as read out', () => {
    assert.equal(formatCoordinates(-33.8688, 151.2093), '-33.86880, 151.20930');
    assert.equal(formatAccuracy(12.4), '12 m');
    assert.equal(formatAccuracy(25000), '25 km');
  });

  test('the latest fix, the last failure and the follow come from the log in time order', () => {
    const view = locationView([
      { type: 'location.follow_started', at: '2026-12-05T10:00:02Z' },
      { type: 'location.received', at: '2026-12-05T10:00:01Z', details: { ...FIX, address: 'A' } },
      { type: 'location.received', at: '2026-12-05T10:00:03Z', details: { ...FIX, address: 'B' } },
      { type: 'video.live', at: '2026-12-05T10:00:04Z' },
    ]);
    assert.equal(view.fix?.address, 'B');
    assert.equal(view.following, true);
    assert.equal(view.failure, '');
    const refused = locationView([
      { type: 'location.asked', at: '2026-12-05T10:00:00Z' },
      { type: 'location.failed', at: '2026-12-05T10:00:05Z', details: { error: 'denied' } },
      { type: 'location.follow_stopped', at: '2026-12-05T10:00:06Z' },
    ]);
    assert.equal(refused.fix, null);
    assert.equal(refused.failure, 'denied');
    assert.equal(refused.following, false);
  });

  test('refusal, timeout and a gone phone read as such', () => {
    const line = (error) => locationTimelineLine({ type: 'location.failed', details: { error } }, 'X');
    assert.match(line('denied')?.text || '', /Le patient a refusé la localisation/);
    assert.match(line('timeout')?.text || '', /délai dépassé/);
    assert.match(line('absent')?.text || '', /n'est plus connecté/);
    assert.equal(failureKey('<script>'), 'location.error.unavailable');
  });

  test('a received fix reads with its address, or its coordinates, and imprecise as such', () => {
    const session = { id: 's', invitations: [], people: { reg: 'Jeanne Martin' } };
    const good = timelineLine(/** @type {any} */ (session), {
      type: 'location.received',
      at: '',
      actor: 'reg',
      details: { ...FIX, address: '8 Boulevard du Port 80000 Amiens', imprecise: false },
    });
    assert.equal(good.tone, 'good');
    assert.match(good.text, /8 Boulevard du Port 80000 Amiens \(précision 12 m\)/);
    const vague = timelineLine(/** @type {any} */ (session), {
      type: 'location.received',
      at: '',
      actor: 'reg',
      details: { ...FIX, accuracy: 1500, address: null, imprecise: true },
    });
    assert.match(vague.text, /^Position imprécise reçue\u00a0: 49.89407, 2.29575 \(précision 1500 m\)$/);
    const asked = timelineLine(/** @type {any} */ (session), { type: 'location.asked', at: '', actor: 'reg', details: {} });
    assert.equal(asked.text, 'Jeanne Martin demande la position du patient');
  });
});

describe('the patient page', () => {
  test('browser errors become the reasons the service knows', () => {
    assert.equal(locationError({ code: 1 }), 'denied');
    assert.equal(locationError({ code: 2 }), 'unavailable');
    assert.equal(locationError({ code: 3 }), 'timeout');
    assert.equal(locationError(new Error('x')), 'unavailable');
  });

  test('a browser position becomes a fix with only what the service takes', () => {
    const position = { coords: { ...FIX, altitude: 3, speed: 0, heading: null } };
    assert.deepEqual(fixFrom(position), FIX);
  });

  test('while followed: the first fix goes, then one per interval unless the phone moved 20 m', () => {
    assert.equal(worthSending(null, 0, FIX, 0), true);
    assert.equal(worthSending(FIX, 0, FIX, 2000), false);
    const moved = { ...FIX, latitude: FIX.latitude + 0.0003 };
    assert.ok(distanceMetres(FIX, moved) > 30 && distanceMetres(FIX, moved) < 40);
    assert.equal(worthSending(FIX, 0, moved, 2000), true);
    assert.equal(worthSending(FIX, 0, FIX, FOLLOW_INTERVAL_MS), true);
  });
});
