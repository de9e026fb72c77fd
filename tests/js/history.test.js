// The history's chosen dates (no DOM): a day typed in a date field is the midnight that starts it
// in the centre's time zone, whatever the machine's, across daylight-saving changes; the end of
// a range is the next midnight; the report's links. Run by `node --test tests/js/`.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';

import { reportUrls } from '../../integration/web/static/console/js/api.js';
import { breakable, dayStart, nextDay } from '../../integration/web/static/console/js/history.js';
import { setTimeZone } from '../../integration/web/static/console/js/i18n.js';

after(() => setTimeZone('Europe/Paris'));

describe('a chosen day starts at midnight in the centre', () => {
  const now = new Date('2026-12-05T12:00:00Z');
  for (const [zone, day, expected] of [
    ['Europe/Paris', '2026-12-01', '2026-11-30T23:00:00.000Z'],
    ['Europe/Paris', '2026-07-14', '2026-07-13T22:00:00.000Z'],
    ['Europe/Paris', '2026-03-29', '2026-03-28T23:00:00.000Z'],
    ['Europe/Paris', '2026-12-05', '2026-12-04T23:00:00.000Z'],
    ['Indian/Reunion', '2026-12-01', '2026-11-30T20:00:00.000Z'],
    ['America/Cayenne', '2026-12-01', '2026-12-01T03:00:00.000Z'],
  ]) {
    test(`${day} in ${zone}`, () => {
      setTimeZone(zone);
      assert.equal(dayStart(day, now), expected);
    });
  }

  test('an empty or malformed day means no limit', () => {
    setTimeZone('Europe/Paris');
    assert.equal(dayStart('', now), '');
    assert.equal(dayStart('05/12/2026', now), '');
  });

  test('the end of a range is the next midnight, across months and years', () => {
    assert.equal(nextDay('2026-12-31'), '2027-01-01');
    assert.equal(nextDay('2028-02-28'), '2028-02-29');
    assert.equal(nextDay('2026-10-25'), '2026-10-26');
    assert.equal(nextDay(''), '');
  });
});

test('the report links of a session', () => {
  assert.deepEqual(reportUrls('ab12'), {
    page: '/console/sessions/ab12/report',
    pdf: '/console/api/sessions/ab12/report.pdf',
  });
  assert.equal(reportUrls('a/b').page, '/console/sessions/a%2Fb/report');
});

test('the channel may go under the number, never the number itself', () => {
  assert.equal(breakable('06\u00a012\u00a034\u00a056\u00a078\u00a0(SMS)'), '06\u00a012\u00a034\u00a056\u00a078 (SMS)');
});
