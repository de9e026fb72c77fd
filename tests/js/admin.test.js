// The administration page's logic (no DOM): an account's states, its positions, the roles and
// time zones offered, the centre shown first, temporary passwords. Run by `node --test tests/js/`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  accountStates,
  generatePassword,
  initialCentre,
  positionsSummary,
  roleChoices,
  zoneChoices,
} from '../../integration/web/static/console/js/adminview.js';

/** @returns {import('../../integration/web/static/console/js/adminview.js').ManagedAccount} */
function account(changes = {}) {
  return {
    id: 1,
    username: 'arm1',
    display_name: 'ARM 1',
    role: 'regulator',
    positions: [],
    disabled: false,
    must_change_password: false,
    last_login_at: null,
    locked_out: false,
    ...changes,
  };
}

describe("an account's states", () => {
  test('an ordinary account is active, nothing else', () => {
    assert.deepEqual(accountStates(account()), [{ key: 'admin.state.active', kind: 'ok' }]);
  });

  test('deactivated first, then locked out, then a temporary password', () => {
    const states = accountStates(account({ disabled: true, locked_out: true, must_change_password: true }));
    assert.deepEqual(
      states.map((s) => s.key),
      ['admin.state.disabled', 'admin.state.locked', 'admin.state.must_change'],
    );
    assert.deepEqual(
      states.map((s) => s.kind),
      ['off', 'warn', 'warn'],
    );
  });
});

describe('positions', () => {
  test('none given means every position of the centre', () => {
    assert.deepEqual(positionsSummary([]), { key: 'admin.accounts.positions.all' });
  });

  test('the positions given, listed', () => {
    assert.deepEqual(positionsSummary(['PJSIP/1001', 'PJSIP/1002']), { text: 'PJSIP/1001, PJSIP/1002' });
  });
});

describe('roles offered', () => {
  const centre = ['regulator', 'doctor', 'admin'];

  test('the roles an administrator may give, all selectable', () => {
    assert.deepEqual(
      roleChoices(centre, 'doctor').map((c) => [c.role, c.disabled]),
      [
        ['regulator', false],
        ['doctor', false],
        ['admin', false],
      ],
    );
  });

  test("an account's role they may not give is shown, not selectable", () => {
    assert.deepEqual(roleChoices(centre, 'platform_admin').at(-1), { role: 'platform_admin', disabled: true });
  });
});

describe('time zones offered', () => {
  test("the service's first, then the French zones", () => {
    assert.deepEqual(zoneChoices(['Europe/Paris', 'America/Cayenne'], null), ['', 'Europe/Paris', 'America/Cayenne']);
  });

  test("a centre's zone outside the list is kept", () => {
    assert.deepEqual(zoneChoices(['Europe/Paris'], 'Europe/Brussels'), ['', 'Europe/Paris', 'Europe/Brussels']);
  });
});

describe('the centre shown first', () => {
  const centres = [{ id: 1 }, { id: 4 }];

  test('the one asked for, when managed', () => {
    assert.equal(initialCentre(centres, 4, 1), 4);
  });

  test("else the administrator's own, else the first", () => {
    assert.equal(initialCentre(centres, 9, 1), 1);
    assert.equal(initialCentre(centres, null, 7), 1);
    assert.equal(initialCentre([], null, 1), null);
  });
});

describe('temporary passwords', () => {
  test('four groups of four unambiguous characters, long enough for the policy', () => {
    const password = generatePassword();
    assert.match(password, /^[a-hjkmnp-z2-9]{4}(-[a-hjkmnp-z2-9]{4}){3}$/);
    assert.ok(password.length >= 12);
  });

  test('two passwords differ', () => {
    assert.notEqual(generatePassword(), generatePassword());
  });

  test('bytes past the last whole alphabet are drawn again (no character favoured)', () => {
    // 31 characters: 248 is the first byte refused; 0 is 'a'.
    const bytes = [248, 255, 0, ...Array(15).fill(1)];
    const password = generatePassword((array) => {
      array[0] = /** @type {number} */ (bytes.shift());
      return array;
    });
    assert.equal(password, 'abbb-bbbb-bbbb-bbbb');
  });
});
