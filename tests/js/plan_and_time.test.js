// The French plan and the centre's time zone on the console (no DOM): numbers of every territory
// in the national form, advice for numbers that get no SMS, times and "today" in the centre's
// zone whatever the machine's. Run by `node --test tests/js/`.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import { hintText, kindBadge } from '../../integration/web/static/console/js/callcard.js';
import { formatDate, formatTime, setTimeZone, startOfDay } from '../../integration/web/static/console/js/i18n.js';
import { displayDestination, editableDestination } from '../../integration/web/static/console/js/sessions.js';
import { useCatalogue } from './catalogue.js';

before(async () => {
  await useCatalogue('fr');
});

describe('numbers of the whole plan, as the server writes them', () => {
  for (const [e164, shown] of [
    ['+33612345678', '06 12 34 56 78'],
    ['+262692123456', '06 92 12 34 56'],
    ['+262639012345', '06 39 01 23 45'],
    ['+590690001234', '06 90 00 12 34'],
    ['+596696201234', '06 96 20 12 34'],
    ['+594694201234', '06 94 20 12 34'],
    ['+262262161234', '02 62 16 12 34'],
    ['+33800123456', '0 800 12 34 56'],
    ['+508551234', '055 12 34'],
  ]) {
    test(`${e164} reads ${shown}`, () => {
      assert.equal(editableDestination(e164), shown);
      assert.ok(!displayDestination(e164).includes(' '), 'no-break spaces only');
    });
  }

  test('a foreign number stays international', () => {
    assert.equal(displayDestination('+4915123456789'), '+4915123456789');
  });
});

describe('numbers that get no SMS', () => {
  const caller = (kind, display) => ({
    call_id: 'c1',
    line: '15',
    state: 'answered',
    position: 'PJSIP/1001',
    previous_positions: [],
    caller: { raw: display, e164: null, display, kind, sms_capable: false },
    suggested_channel: 'ask_number',
    started_at: '2026-12-05T10:00:00Z',
  });

  for (const kind of ['special', 'freephone', 'premium', 'short']) {
    test(`a ${kind} number has its badge and asks for a mobile`, () => {
      const call = caller(kind, kind === 'short' ? '3624' : '0 800 12 34 56');
      assert.match(kindBadge(call).text, /pas de SMS/);
      const hint = hintText(call, { movedAway: false });
      assert.match(hint, /mobile/);
      assert.ok(!hint.startsWith('call.hint'), hint);
    });
  }

  test('the short number is named in the advice', () => {
    assert.match(hintText(caller('short', '3624'), { movedAway: false }), /\(3624\)/);
  });
});

describe("the centre's time zone", () => {
  test('times and dates are the centre’s, not the machine’s', () => {
    setTimeZone('Indian/Reunion');
    assert.equal(formatTime('2026-03-29T21:30:05Z'), '01:30:05');
    assert.equal(formatDate('2026-03-29T21:30:05Z'), '30/03/2026');
    setTimeZone('America/Cayenne');
    assert.equal(formatTime('2026-03-29T21:30:05Z'), '18:30:05');
    assert.equal(formatDate('2026-03-29T21:30:05Z'), '29/03/2026');
  });

  test('an unknown zone keeps the current one', () => {
    setTimeZone('Europe/Paris');
    setTimeZone('Mars/Olympus');
    assert.equal(formatTime('2026-12-05T10:00:00Z'), '11:00:00');
  });

  test('"today" starts at the centre’s midnight, across daylight saving changes', () => {
    setTimeZone('Europe/Paris');
    assert.equal(startOfDay(0, new Date('2026-03-29T12:00:00Z')).toISOString(), '2026-03-28T23:00:00.000Z');
    assert.equal(startOfDay(0, new Date('2026-10-25T12:00:00Z')).toISOString(), '2026-10-24T22:00:00.000Z');
    // Six days before 2 April (summer time) is 27 March, still winter time.
    assert.equal(startOfDay(6, new Date('2026-04-02T12:00:00Z')).toISOString(), '2026-03-26T23:00:00.000Z');
    setTimeZone('Indian/Reunion');
    // 21:30 UTC is already the next day in Réunion.
    assert.equal(startOfDay(0, new Date('2026-03-29T21:30:00Z')).toISOString(), '2026-03-29T20:00:00.000Z');
  });
});
