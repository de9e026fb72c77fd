/**
 * The administration page's logic without the DOM: an account's states,
 * its positions' summary, the roles offered, the time zones offered, a
 * temporary password. Run by `node --test tests/js/`.
 * @module adminview
 */

/**
 * @typedef {object} ManagedAccount
 * @property {number} id
 * @property {string} username
 * @property {string} display_name
 * @property {'regulator' | 'doctor' | 'admin' | 'platform_admin'} role
 * @property {string[]} positions the positions given; empty: every position of the centre
 * @property {boolean} disabled
 * @property {boolean} must_change_password
 * @property {string | null} last_login_at
 * @property {boolean} locked_out
 */

/**
 * @typedef {object} State
 * @property {string} key the catalogue key of its label
 * @property {'ok' | 'off' | 'warn'} kind how it is shown
 */

/**
 * What an account's state column says, most important first.
 * @param {ManagedAccount} account
 * @returns {State[]}
 */
export function accountStates(account) {
  /** @type {State[]} */
  const states = [
    account.disabled
      ? { key: 'admin.state.disabled', kind: 'off' }
      : { key: 'admin.state.active', kind: 'ok' },
  ];
  if (account.locked_out) {
    states.push({ key: 'admin.state.locked', kind: 'warn' });
  }
  if (account.must_change_password) {
    states.push({ key: 'admin.state.must_change', kind: 'warn' });
  }
  return states;
}

/**
 * The positions' column: the ones given, or the key saying every position.
 * @param {string[]} positions
 * @returns {{key: string} | {text: string}}
 */
export function positionsSummary(positions) {
  return positions.length ? { text: positions.join(', ') } : { key: 'admin.accounts.positions.all' };
}

/**
 * The roles the role select offers for an account: those the administrator may give, and the
 * account's own when they may not give it (shown, so the select does not lie).
 * @param {string[]} grantable
 * @param {string | null} current
 * @returns {{role: string, disabled: boolean}[]}
 */
export function roleChoices(grantable, current) {
  const choices = grantable.map((role) => ({ role, disabled: false }));
  if (current && !grantable.includes(current)) {
    choices.push({ role: current, disabled: true });
  }
  return choices;
}

/**
 * The time zones a select offers: the service's (empty value) first, then the French ones,
 * and the centre's own when it is another.
 * @param {string[]} zones
 * @param {string | null} current
 * @returns {string[]} `''` stands for the service's
 */
export function zoneChoices(zones, current) {
  const choices = ['', ...zones];
  if (current && !zones.includes(current)) {
    choices.push(current);
  }
  return choices;
}

/** Letters and digits that cannot be mistaken for one another when read aloud or copied. */
const ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';

/**
 * A temporary password: four groups of four characters (19 with the hyphens, over 80 bits).
 * @param {(array: Uint8Array) => Uint8Array} [random] fills the array (crypto's by default)
 * @returns {string}
 */
export function generatePassword(random = (array) => crypto.getRandomValues(array)) {
  const groups = [];
  while (groups.length < 4) {
    let group = '';
    while (group.length < 4) {
      const [byte] = random(new Uint8Array(1));
      // Reject bytes past the last whole multiple: every character equally likely.
      if (byte < 256 - (256 % ALPHABET.length)) {
        group += ALPHABET[byte % ALPHABET.length];
      }
    }
    groups.push(group);
  }
  return groups.join('-');
}

/**
 * The centre shown first: the one asked (in the address), else the administrator's own, else
 * the first.
 * @param {{id: number}[]} centres
 * @param {number | null} asked
 * @param {number | null} own
 * @returns {number | null}
 */
export function initialCentre(centres, asked, own) {
  const ids = centres.map((centre) => centre.id);
  if (asked !== null && ids.includes(asked)) {
    return asked;
  }
  if (own !== null && ids.includes(own)) {
    return own;
  }
  return ids.length ? ids[0] : null;
}
