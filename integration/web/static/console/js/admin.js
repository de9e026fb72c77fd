/**
 * The administration page: the centre chosen (a platform administrator
 * chooses among every centre and creates centres), its accounts (create,
 * edit, reset a password, unlock, deactivate), its positions and settings.
 * @module admin
 */

import { ApiError, LOGIN_URL, fetchMe, logout, request } from './api.js';
import {
  accountStates,
  generatePassword,
  initialCentre,
  positionsSummary,
  roleChoices,
  zoneChoices,
} from './adminview.js';
import { errorMessage } from './errors.js';
import { applyTranslations, formatDate, formatTime, has, loadCatalogue, t } from './i18n.js';

const API = '/console/admin/api';

/**
 * @typedef {object} Centre
 * @property {number} id
 * @property {string} code
 * @property {string} name
 * @property {string | null} time_zone
 */

/**
 * @typedef {object} Overview
 * @property {Centre[]} centres
 * @property {number | null} own_centre_id
 * @property {boolean} platform
 * @property {string[]} roles the roles this administrator may give
 * @property {string[]} time_zones
 * @property {string} service_time_zone
 */

/** @typedef {import('./adminview.js').ManagedAccount} ManagedAccount */

/**
 * @param {string} id
 * @returns {any}
 */
function byId(id) {
  const element = document.getElementById(id);
  if (!element) {
    throw new Error(`Missing element #${id}`);
  }
  return element;
}

/**
 * @param {string} role
 * @returns {string}
 */
function roleLabel(role) {
  return has(`role.${role}`) ? t(`role.${role}`) : role;
}

/**
 * Show a message above the page's sections (or in the dialog when it is open).
 * @param {string} text
 * @param {boolean} [failed]
 */
function say(text, failed = false) {
  const dialog = /** @type {HTMLDialogElement} */ (byId('account-dialog'));
  const prefix = dialog.open ? 'account-dialog' : 'admin';
  for (const kind of ['status', 'error']) {
    byId(`account-dialog-${kind}`).hidden = true;
    byId(`admin-${kind}`).hidden = true;
  }
  const box = byId(`${prefix}-${failed ? 'error' : 'status'}`);
  box.textContent = text;
  box.hidden = false;
  // The action may be far down the dialog or the page: its outcome must be seen.
  box.scrollIntoView({ block: 'nearest' });
}

/**
 * A time zone as the selects show it: the territory's name, then the zone.
 * @param {string} zone
 * @returns {string}
 */
function zoneLabel(zone) {
  const key = `admin.zone.${zone}`;
  return has(key) ? t('admin.zone.option', { label: t(key), zone }) : zone;
}

/**
 * Run an action, saying what went wrong if it fails.
 * @param {HTMLButtonElement | null} button disabled while it runs
 * @param {() => Promise<void>} action
 */
async function attempt(button, action) {
  if (button) {
    button.disabled = true;
  }
  try {
    await action();
  } catch (error) {
    say(errorMessage(error), true);
  } finally {
    if (button) {
      button.disabled = false;
    }
  }
}

class AdminPage {
  constructor() {
    /** @type {Overview | null} */
    this.overview = null;
    /** @type {number | null} */
    this.centreId = null;
    /** @type {ManagedAccount[]} */
    this.accounts = [];
    /** @type {string[]} */
    this.positions = [];
    /** @type {ManagedAccount | null} the account the dialog manages; null: a new one */
    this.editing = null;
    this.me = '';
  }

  /** @param {import('./api.js').Me} me */
  async start(me) {
    this.me = me.account.username;
    const name = me.account.display_name || me.account.username;
    const link = byId('account-name');
    link.textContent = name;
    link.title = t('header.password', { name, role: roleLabel(me.account.role) });
    this.wire();
    await this.loadOverview();
  }

  wire() {
    byId('logout').addEventListener('click', async () => {
      let providerLogout = null;
      try {
        providerLogout = await logout();
      } catch (error) {
        if (!(error instanceof ApiError)) {
          throw error;
        }
      }
      window.location.assign(providerLogout ?? LOGIN_URL);
    });
    byId('centre-select').addEventListener('change', (/** @type {Event} */ event) => {
      const select = /** @type {HTMLSelectElement} */ (event.target);
      this.showCentre(Number(select.value));
    });
    for (const button of document.querySelectorAll('[data-generate]')) {
      button.addEventListener('click', () => {
        const input = byId(/** @type {HTMLElement} */ (button).dataset.generate || '');
        input.value = generatePassword();
        input.focus();
      });
    }
    byId('centre-form').addEventListener('submit', (/** @type {SubmitEvent} */ event) =>
      this.createCentre(event),
    );
    byId('settings-form').addEventListener('submit', (/** @type {SubmitEvent} */ event) =>
      this.saveSettings(event),
    );
    byId('position-form').addEventListener('submit', (/** @type {SubmitEvent} */ event) =>
      this.addPosition(event),
    );
    byId('account-new').addEventListener('click', () => this.openAccount(null));
    byId('account-form').addEventListener('submit', (/** @type {SubmitEvent} */ event) =>
      this.saveAccount(event),
    );
    byId('reset-form').addEventListener('submit', (/** @type {SubmitEvent} */ event) =>
      this.resetPassword(event),
    );
    byId('account-unlock').addEventListener('click', () => this.unlock());
    byId('account-state').addEventListener('click', () => this.toggleState());
    byId('account-close').addEventListener('click', () => byId('account-dialog').close());
  }

  /** @returns {string} */
  centrePath() {
    return `${API}/centres/${this.centreId}`;
  }

  /** @returns {Centre | undefined} */
  centre() {
    return this.overview?.centres.find((centre) => centre.id === this.centreId);
  }

  async loadOverview() {
    /** @type {Overview} */
    const overview = await request('GET', `${API}/centres`);
    this.overview = overview;
    const asked = Number(new URLSearchParams(window.location.search).get('centre')) || null;
    const select = /** @type {HTMLSelectElement} */ (byId('centre-select'));
    select.replaceChildren(
      ...overview.centres.map((centre) => new Option(`${centre.name} (${centre.code})`, String(centre.id))),
    );
    byId('centre-choice').hidden = overview.centres.length < 2 && !overview.platform;
    byId('platform-section').hidden = !overview.platform;
    for (const zones of document.querySelectorAll('select[data-zones]')) {
      this.fillZones(/** @type {HTMLSelectElement} */ (zones), null);
    }
    const first = initialCentre(overview.centres, asked, overview.own_centre_id);
    if (first !== null) {
      await this.showCentre(first);
    }
  }

  /**
   * @param {HTMLSelectElement} select
   * @param {string | null} current
   */
  fillZones(select, current) {
    const service = this.overview?.service_time_zone ?? '';
    select.replaceChildren(
      ...zoneChoices(this.overview?.time_zones ?? [], current).map(
        (zone) =>
          new Option(zone ? zoneLabel(zone) : t('admin.centre.time_zone.service', { zone: service }), zone),
      ),
    );
    select.value = current ?? '';
  }

  /** @param {number} centreId */
  async showCentre(centreId) {
    this.centreId = centreId;
    /** @type {HTMLSelectElement} */ (byId('centre-select')).value = String(centreId);
    const centre = this.centre();
    if (centre) {
      byId('centre-title').textContent = t('admin.centre.current', { name: centre.name });
      byId('settings-name').value = centre.name;
      this.fillZones(byId('settings-zone'), centre.time_zone);
    }
    await Promise.all([this.loadAccounts(), this.loadPositions()]);
  }

  async loadAccounts() {
    const body = await request('GET', `${this.centrePath()}/accounts`);
    this.accounts = body.accounts;
    this.renderAccounts();
  }

  renderAccounts() {
    const rows = this.accounts.map((account) => this.accountRow(account));
    byId('accounts-body').replaceChildren(...rows);
    byId('accounts-empty').hidden = rows.length > 0;
  }

  /**
   * @param {ManagedAccount} account
   * @returns {HTMLTableRowElement}
   */
  accountRow(account) {
    const row = document.createElement('tr');
    row.dataset.username = account.username;
    const cell = (/** @type {string} */ text) => {
      const td = document.createElement('td');
      td.textContent = text;
      row.append(td);
      return td;
    };
    const name = cell(account.username);
    if (account.username === this.me) {
      const you = document.createElement('span');
      you.className = 'muted';
      you.textContent = ` (${t('admin.accounts.you')})`;
      name.append(you);
    }
    cell(account.display_name);
    cell(roleLabel(account.role));
    const positions = positionsSummary(account.positions);
    cell('key' in positions ? t(positions.key) : positions.text);
    const states = cell('');
    states.dataset.field = 'state';
    for (const state of accountStates(account)) {
      const chip = document.createElement('span');
      chip.className = `admin-state admin-state-${state.kind}`;
      chip.textContent = t(state.key);
      states.append(chip);
    }
    cell(
      account.last_login_at
        ? `${formatDate(account.last_login_at)} ${formatTime(account.last_login_at)}`
        : t('admin.accounts.never'),
    );
    const actions = cell('');
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'button button-secondary button-small';
    button.textContent = t('admin.accounts.edit');
    button.setAttribute('aria-label', t('admin.accounts.edit.label', { username: account.username }));
    button.addEventListener('click', () => this.openAccount(account));
    actions.append(button);
    return row;
  }

  async loadPositions() {
    const body = await request('GET', `${this.centrePath()}/positions`);
    this.positions = body.positions.map((/** @type {{endpoint: string}} */ p) => p.endpoint);
    const items = body.positions.map(
      (/** @type {{endpoint: string, accounts: string[]}} */ position) => {
        const item = document.createElement('li');
        item.dataset.position = position.endpoint;
        const label = document.createElement('span');
        label.className = 'admin-position-name';
        label.textContent = position.endpoint;
        const holders = document.createElement('span');
        holders.className = 'muted';
        holders.textContent = position.accounts.length
          ? t('admin.positions.holders', { accounts: position.accounts.join(', ') })
          : t('admin.positions.holders.none');
        const remove = document.createElement('button');
        remove.type = 'button';
        remove.className = 'button button-danger-quiet button-small';
        remove.textContent = t('admin.positions.remove');
        remove.setAttribute('aria-label', t('admin.positions.remove.label', { position: position.endpoint }));
        remove.addEventListener('click', () =>
          attempt(remove, async () => {
            await request('POST', `${this.centrePath()}/positions/remove`, {
              position: position.endpoint,
            });
            say(t('admin.positions.removed', { position: position.endpoint }));
            await Promise.all([this.loadPositions(), this.loadAccounts()]);
          }),
        );
        item.append(label, holders, remove);
        return item;
      },
    );
    byId('positions-list').replaceChildren(...items);
    byId('positions-empty').hidden = items.length > 0;
  }

  /** @param {SubmitEvent} event */
  async addPosition(event) {
    event.preventDefault();
    const input = byId('position-new');
    await attempt(/** @type {HTMLButtonElement} */ (event.submitter), async () => {
      const body = await request('POST', `${this.centrePath()}/positions`, { position: input.value });
      input.value = '';
      say(t('admin.positions.added', { position: body.position }));
      await this.loadPositions();
    });
  }

  /** @param {SubmitEvent} event */
  async saveSettings(event) {
    event.preventDefault();
    await attempt(/** @type {HTMLButtonElement} */ (event.submitter), async () => {
      /** @type {Centre} */
      const saved = await request('POST', this.centrePath(), {
        name: byId('settings-name').value,
        time_zone: byId('settings-zone').value,
      });
      this.replaceCentre(saved);
      say(t('admin.settings.saved'));
    });
  }

  /** @param {SubmitEvent} event */
  async createCentre(event) {
    event.preventDefault();
    const form = /** @type {HTMLFormElement} */ (event.target);
    await attempt(/** @type {HTMLButtonElement} */ (event.submitter), async () => {
      /** @type {Centre} */
      const created = await request('POST', `${API}/centres`, {
        code: byId('centre-code').value,
        name: byId('centre-name').value,
        time_zone: byId('centre-zone').value,
      });
      form.reset();
      await this.loadOverview();
      await this.showCentre(created.id);
      say(t('admin.centre.created', { name: created.name }));
    });
  }

  /** @param {Centre} saved */
  replaceCentre(saved) {
    if (!this.overview) {
      return;
    }
    this.overview.centres = this.overview.centres.map((c) => (c.id === saved.id ? saved : c));
    byId('centre-title').textContent = t('admin.centre.current', { name: saved.name });
    const option = /** @type {HTMLSelectElement} */ (byId('centre-select')).selectedOptions[0];
    if (option) {
      option.textContent = `${saved.name} (${saved.code})`;
    }
  }

  /**
   * Open the account dialog: a new account, or one to manage.
   * @param {ManagedAccount | null} account
   */
  openAccount(account) {
    this.editing = account;
    const dialog = /** @type {HTMLDialogElement} */ (byId('account-dialog'));
    const self = account !== null && account.username === this.me;
    byId('account-dialog-heading').textContent = account
      ? t('admin.account.edit.heading', { username: account.username })
      : t('admin.account.create.heading');
    byId('account-dialog-error').hidden = true;
    byId('account-dialog-status').hidden = true;
    byId('account-self').hidden = !self;
    byId('account-username-field').hidden = account !== null;
    byId('account-username').required = account === null;
    byId('account-username').value = '';
    byId('account-password-field').hidden = account !== null;
    byId('account-password').required = account === null;
    byId('account-password').value = '';
    byId('account-display-name').value = account ? account.display_name : '';
    const role = /** @type {HTMLSelectElement} */ (byId('account-role'));
    role.replaceChildren(
      ...roleChoices(this.overview?.roles ?? [], account ? account.role : null).map((choice) => {
        const option = new Option(roleLabel(choice.role), choice.role);
        option.disabled = choice.disabled;
        return option;
      }),
    );
    role.value = account ? account.role : 'regulator';
    role.disabled = self;
    this.renderPositionChecks(account ? account.positions : []);
    byId('account-submit').textContent = account ? t('admin.account.save') : t('admin.account.create');
    byId('account-manage').hidden = account === null || self;
    byId('reset-password').value = '';
    if (account) {
      this.renderManage(account);
    }
    if (!dialog.open) {
      dialog.showModal();
    }
    (account ? byId('account-display-name') : byId('account-username')).focus();
  }

  /** @param {string[]} given */
  renderPositionChecks(given) {
    const box = byId('account-positions');
    if (!this.positions.length) {
      const none = document.createElement('p');
      none.className = 'muted';
      none.textContent = t('admin.accounts.positions.none');
      box.replaceChildren(none);
      return;
    }
    box.replaceChildren(
      ...this.positions.map((endpoint, index) => {
        const label = document.createElement('label');
        label.className = 'admin-check';
        const input = document.createElement('input');
        input.type = 'checkbox';
        input.name = 'positions';
        input.value = endpoint;
        input.id = `account-position-${index}`;
        input.checked = given.includes(endpoint);
        label.append(input, ` ${endpoint}`);
        return label;
      }),
    );
  }

  /** @param {ManagedAccount} account */
  renderManage(account) {
    byId('lock-text').textContent = account.locked_out
      ? t('admin.account.lock.locked')
      : t('admin.account.lock.free');
    byId('account-unlock').disabled = !account.locked_out;
    const state = byId('account-state');
    state.textContent = account.disabled ? t('admin.account.enable') : t('admin.account.disable');
    state.className = account.disabled ? 'button button-secondary' : 'button button-danger';
  }

  /** @param {ManagedAccount} account the account as the server answered */
  async refreshed(account) {
    this.editing = account;
    this.accounts = this.accounts.map((a) => (a.id === account.id ? account : a));
    this.renderAccounts();
    this.renderManage(account);
  }

  /** @param {SubmitEvent} event */
  async saveAccount(event) {
    event.preventDefault();
    const positions = [
      ...document.querySelectorAll('#account-positions input[name=positions]:checked'),
    ].map((input) => /** @type {HTMLInputElement} */ (input).value);
    const values = {
      display_name: byId('account-display-name').value,
      role: byId('account-role').value,
      positions,
    };
    const editing = this.editing;
    await attempt(/** @type {HTMLButtonElement} */ (event.submitter), async () => {
      if (editing) {
        const saved = await request('POST', `${this.centrePath()}/accounts/${editing.id}`, values);
        await this.refreshed(saved);
        say(t('admin.account.saved', { username: saved.username }));
        return;
      }
      const created = await request('POST', `${this.centrePath()}/accounts`, {
        ...values,
        username: byId('account-username').value,
        password: byId('account-password').value,
      });
      await Promise.all([this.loadAccounts(), this.loadPositions()]);
      const account = this.accounts.find((a) => a.id === created.id) ?? created;
      this.openAccount(account);
      say(t('admin.account.created', { username: created.username }));
    });
  }

  /** @param {SubmitEvent} event */
  async resetPassword(event) {
    event.preventDefault();
    const editing = this.editing;
    if (!editing) {
      return;
    }
    const input = byId('reset-password');
    await attempt(/** @type {HTMLButtonElement} */ (event.submitter), async () => {
      const account = await request('POST', `${this.centrePath()}/accounts/${editing.id}/password`, {
        password: input.value,
      });
      await this.refreshed(account);
      say(t('admin.account.reset.done', { username: account.username }));
    });
  }

  async unlock() {
    const editing = this.editing;
    if (!editing) {
      return;
    }
    await attempt(null, async () => {
      const account = await request('POST', `${this.centrePath()}/accounts/${editing.id}/unlock`, {});
      await this.refreshed(account);
      say(t('admin.account.unlocked', { username: account.username }));
    });
  }

  async toggleState() {
    const editing = this.editing;
    if (!editing) {
      return;
    }
    const disabled = !editing.disabled;
    if (disabled && !window.confirm(t('admin.account.disable.confirm', { username: editing.username }))) {
      return;
    }
    await attempt(/** @type {HTMLButtonElement} */ (byId('account-state')), async () => {
      const account = await request('POST', `${this.centrePath()}/accounts/${editing.id}/state`, {
        disabled,
      });
      await this.refreshed(account);
      say(t(disabled ? 'admin.account.disabled' : 'admin.account.enabled', { username: account.username }));
    });
  }
}

async function main() {
  await loadCatalogue();
  applyTranslations();
  document.title = t('admin.page_title', {}, document.title);
  let me;
  try {
    me = await fetchMe();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      return; // leaving for the login page
    }
    say(errorMessage(error), true);
    return;
  }
  try {
    await new AdminPage().start(me);
  } catch (error) {
    say(errorMessage(error), true);
  }
}

main();
