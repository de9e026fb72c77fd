/**
 * "Historique des visios": every session, newest first, filtered by state,
 * outcome (how it ended), number, regulator, call and period (or chosen
 * dates), a page at a time. A
 * row opens the session's room (to go back into a visio in progress, or
 * review one that is over); its "Rapport" link opens the printable report.
 * @module history
 */

import { ApiError, fetchHistory, fetchSession, reportUrls } from './api.js';
import { errorMessage } from './errors.js';
import { applyTranslations, currentTimeZone, formatDate, formatTime, startOfDay, t } from './i18n.js';
import { outcomeLines } from './outcome.js';
import { STATES, actorName, channelName, displayDestination, patientInvitation, stateChip } from './sessions.js';

/** @typedef {import('./api.js').Session} Session */

/** Sessions per page. */
export const PAGE_SIZE = 20;

/** Periods the filter offers, in days (0: no limit). */
const PERIODS = [
  { value: '1', key: 'history.period.today' },
  { value: '7', key: 'history.period.week' },
  { value: '30', key: 'history.period.month' },
  { value: '', key: 'history.period.all' },
  { value: 'custom', key: 'history.filter.period.custom' },
];

/**
 * How a visio ended, as the « Résultat » filter offers it: each choice is one
 * or several outcome kinds (the API's `outcome`, comma-separated). Only ended
 * visios have one.
 */
export const OUTCOME_FILTERS = [
  { value: 'video_established', key: 'history.outcome.video' },
  { value: 'photos_only,network_weak', key: 'history.outcome.photos' },
  {
    value: [
      'photos_only',
      'network_weak',
      'no_path',
      'camera_allowed',
      'camera_refused',
      'camera_unavailable',
      'browser_unsupported',
      'link_opened',
      'link_not_opened',
      'not_delivered',
      'waiting',
    ].join(','),
    key: 'history.outcome.no_video',
  },
  { value: 'link_not_opened', key: 'history.outcome.link_not_opened' },
  { value: 'not_delivered', key: 'history.outcome.not_delivered' },
  { value: 'link_opened', key: 'history.outcome.link_opened' },
  { value: 'camera_refused', key: 'history.outcome.camera_refused' },
  { value: 'camera_unavailable', key: 'history.outcome.camera_unavailable' },
  { value: 'browser_unsupported', key: 'history.outcome.browser_unsupported' },
  { value: 'camera_allowed', key: 'history.outcome.camera_allowed' },
  { value: 'no_path', key: 'history.outcome.no_path' },
  { value: 'waiting', key: 'history.outcome.waiting' },
];

/**
 * Midnight at the start of a calendar day (`YYYY-MM-DD`, as a date field
 * gives it) in the centre's time zone, as the API expects it.
 * @param {string} day
 * @param {Date} [now]
 * @returns {string} ISO 8601, empty for an empty or malformed day
 */
export function dayStart(day, now = new Date()) {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!match) {
    return '';
  }
  const todayText = new Intl.DateTimeFormat('en-CA', {
    timeZone: currentTimeZone(),
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(now);
  const [year, month, date] = todayText.split('-').map(Number);
  const daysAgo = Math.round(
    (Date.UTC(year, month - 1, date) - Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]))) / 86400000,
  );
  return startOfDay(daysAgo, now).toISOString();
}

/**
 * The day after a calendar day (the end of a range is the next midnight).
 * @param {string} day `YYYY-MM-DD`
 * @returns {string} `YYYY-MM-DD`, empty for an empty or malformed day
 */
export function nextDay(day) {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!match) {
    return '';
  }
  const next = new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]) + 1));
  return next.toISOString().slice(0, 10);
}

/**
 * The start of a period (midnight in the centre's time zone), as the API expects it.
 * @param {string} days `1` for today, `7`, `30`, or empty
 * @returns {string} ISO 8601, empty for no limit
 */
export function periodStart(days) {
  const count = Number(days);
  if (!count) {
    return '';
  }
  return startOfDay(count - 1).toISOString();
}

/**
 * A patient's destination as the history's narrow column shows it: the channel,
 * "(SMS)", may go under the number (never the number itself, whose spaces do not break).
 * @param {string} text
 * @returns {string}
 */
export function breakable(text) {
  return text.replace(/\u00a0\(/g, ' (');
}

/** The history view, built from `<template id="history-template">`. */
export class HistoryView {
  /**
   * @param {(sessionId: string) => void} onOpen open a session's room
   * @param {() => void} onBack back to the call card
   */
  constructor(onOpen, onBack) {
    this.onOpen = onOpen;
    const template = /** @type {HTMLTemplateElement} */ (document.getElementById('history-template'));
    const fragment = /** @type {DocumentFragment} */ (template.content.cloneNode(true));
    applyTranslations(fragment);
    this.element = /** @type {HTMLElement} */ (fragment.firstElementChild);
    /** @type {Session[]} rows shown, newest first */
    this.sessions = [];
    this.total = 0;
    /** @type {Map<string, {updatedAt: string, destination: string}>} patient destinations by session */
    this.destinations = new Map();
    /** @type {Set<string>} sessions whose destination is being fetched (`id@updated_at`) */
    this.fetching = new Set();
    /** Increases with each new query, so that a late answer to an old one is dropped. */
    this.generation = 0;
    this.refreshTimer = 0;

    this.form = /** @type {HTMLFormElement} */ (this.field('filters'));
    this.stateSelect = /** @type {HTMLSelectElement} */ (this.field('state'));
    this.outcomeSelect = /** @type {HTMLSelectElement} */ (this.field('outcome'));
    this.numberInput = /** @type {HTMLInputElement} */ (this.field('number'));
    this.periodSelect = /** @type {HTMLSelectElement} */ (this.field('period'));
    this.fromInput = /** @type {HTMLInputElement} */ (this.field('from'));
    this.toInput = /** @type {HTMLInputElement} */ (this.field('to'));
    this.regulatorInput = /** @type {HTMLInputElement} */ (this.field('regulator'));
    this.callInput = /** @type {HTMLInputElement} */ (this.field('call'));
    this.body = /** @type {HTMLTableSectionElement} */ (this.field('rows'));
    this.more = /** @type {HTMLButtonElement} */ (this.field('more'));

    const all = new Option(t('history.state.all'), '');
    this.stateSelect.replaceChildren(all, ...STATES.map((state) => new Option(stateChip(state).text, state)));
    this.outcomeSelect.replaceChildren(
      new Option(t('history.outcome.all'), ''),
      ...OUTCOME_FILTERS.map((choice) => new Option(t(choice.key), choice.value)),
    );
    this.periodSelect.replaceChildren(...PERIODS.map((period) => new Option(t(period.key), period.value)));
    this.periodSelect.value = '7';

    this.field('back').addEventListener('click', () => onBack());
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.load();
    });
    this.stateSelect.addEventListener('change', () => this.load());
    this.outcomeSelect.addEventListener('change', () => this.load());
    this.periodSelect.addEventListener('change', () => {
      this.showRange();
      if (this.periodSelect.value === 'custom') {
        this.fromInput.focus();
      } else {
        this.load();
      }
    });
    for (const input of [this.fromInput, this.toInput]) {
      input.addEventListener('change', () => this.load());
    }
    this.field('reset').addEventListener('click', () => {
      this.stateSelect.value = '';
      this.outcomeSelect.value = '';
      this.numberInput.value = '';
      this.regulatorInput.value = '';
      this.callInput.value = '';
      this.fromInput.value = '';
      this.toInput.value = '';
      this.periodSelect.value = '7';
      this.showRange();
      this.load();
      this.numberInput.focus();
    });
    this.more.addEventListener('click', () => this.loadMore());
  }

  /** Put the keyboard focus on the view's title. */
  focus() {
    this.field('title').focus();
  }

  /**
   * The chosen dates are shown only for "Dates choisies".
   * @private
   */
  showRange() {
    this.field('range').hidden = this.periodSelect.value !== 'custom';
  }

  /**
   * The filters as typed.
   * @private
   * @returns {{state: string, outcome: string, number: string, since: string, until: string, regulator: string, call_id: string}}
   */
  filters() {
    const custom = this.periodSelect.value === 'custom';
    return {
      state: this.stateSelect.value,
      outcome: this.outcomeSelect.value,
      number: this.numberInput.value.trim(),
      since: custom ? dayStart(this.fromInput.value) : periodStart(this.periodSelect.value),
      until: custom ? dayStart(nextDay(this.toInput.value)) : '',
      regulator: this.regulatorInput.value.trim(),
      call_id: this.callInput.value.trim(),
    };
  }

  /** Load the first page for the current filters. */
  async load() {
    const generation = (this.generation += 1);
    this.setBusy(true);
    try {
      const page = await fetchHistory({ limit: PAGE_SIZE, offset: 0, ...this.filters() });
      if (generation !== this.generation) {
        return;
      }
      this.sessions = page.sessions;
      this.total = page.total;
      this.showError('');
      this.renderRows();
    } catch (error) {
      if (generation === this.generation) {
        this.showProblem(error);
      }
    } finally {
      if (generation === this.generation) {
        this.setBusy(false);
      }
    }
  }

  /** "Plus anciennes": the next page, appended. */
  async loadMore() {
    const generation = this.generation;
    this.more.disabled = true;
    this.more.textContent = t('history.loading');
    try {
      const page = await fetchHistory({ limit: PAGE_SIZE, offset: this.sessions.length, ...this.filters() });
      if (generation !== this.generation) {
        return;
      }
      const known = new Set(this.sessions.map((session) => session.id));
      const first = this.sessions.length;
      this.sessions = this.sessions.concat(page.sessions.filter((session) => !known.has(session.id)));
      this.total = page.total;
      this.showError('');
      this.renderRows();
      // Keep the keyboard where the new rows start.
      this.body.rows[first]?.querySelector('a')?.focus();
    } catch (error) {
      this.showProblem(error);
    } finally {
      this.more.disabled = false;
      this.more.textContent = t('history.more');
    }
  }

  /**
   * Sessions changed (a `session.updated` message): reload the rows shown, soon.
   */
  refreshSoon() {
    window.clearTimeout(this.refreshTimer);
    this.refreshTimer = window.setTimeout(() => this.reloadShown(), 500);
  }

  /** Stop pending work when the view is left. */
  close() {
    window.clearTimeout(this.refreshTimer);
    this.generation += 1;
  }

  /** @private */
  async reloadShown() {
    const generation = this.generation;
    const limit = Math.min(Math.max(this.sessions.length, PAGE_SIZE), 200);
    try {
      const page = await fetchHistory({ limit, offset: 0, ...this.filters() });
      if (generation === this.generation) {
        this.sessions = page.sessions;
        this.total = page.total;
        this.renderRows();
      }
    } catch {
      // The next update or a manual filter tries again; the rows shown stay.
    }
  }

  /** @private */
  renderRows() {
    const focusedId =
      document.activeElement instanceof HTMLElement && this.body.contains(document.activeElement)
        ? document.activeElement.closest('tr')?.dataset.sessionId
        : undefined;
    const rows = this.sessions.map((session) => this.row(session));
    this.body.replaceChildren(...rows);
    if (focusedId) {
      rows.find((row) => row.dataset.sessionId === focusedId)?.querySelector('a')?.focus();
    }
    const count = this.field('count');
    if (!this.total) {
      count.textContent = t('history.count.none');
    } else {
      count.textContent = this.total === 1 ? t('history.count.one') : t('history.count.many', { count: this.total });
    }
    this.field('table').hidden = this.sessions.length === 0;
    this.more.hidden = this.sessions.length >= this.total;
  }

  /**
   * One row: date and time, patient, state, outcome, who opened it (and where), the report.
   * @private
   * @param {Session} session
   * @returns {HTMLTableRowElement}
   */
  row(session) {
    const row = document.createElement('tr');
    row.dataset.sessionId = session.id;
    const chip = stateChip(session.state);
    row.dataset.tone = chip.tone;

    const when = document.createElement('td');
    const link = document.createElement('a');
    link.className = 'history-open';
    link.href = `#/session/${encodeURIComponent(session.id)}`;
    const date = document.createElement('span');
    date.className = 'history-date';
    date.textContent = formatDate(session.created_at);
    const time = document.createElement('span');
    time.className = 'history-time';
    time.textContent = formatTime(session.created_at);
    link.append(date, ' ', time);
    link.addEventListener('click', (event) => {
      if (event.button === 0 && !event.ctrlKey && !event.metaKey && !event.shiftKey) {
        event.preventDefault();
        this.onOpen(session.id);
      }
    });
    when.append(link);

    const who = document.createElement('td');
    who.className = 'history-number';
    const caller = displayDestination(session.caller_number);
    const cached = this.destinations.get(session.id);
    who.textContent = breakable((cached && cached.destination) || caller || '…');
    if (!cached || cached.updatedAt !== session.updated_at) {
      this.loadDestination(session, caller);
    }

    const state = document.createElement('td');
    const chipElement = document.createElement('span');
    chipElement.className = 'chip session-chip';
    chipElement.dataset.tone = chip.tone;
    chipElement.textContent = chip.text;
    state.append(chipElement);

    const outcome = document.createElement('td');
    outcome.className = 'history-outcome';
    if (session.outcome) {
      const lines = outcomeLines(session.outcome);
      outcome.dataset.tone = lines.tone;
      outcome.textContent = lines.title;
    }

    // Who opened it, with their position beneath: one column less, so that the report's
    // link fits beside the room's side panel at 1280 px.
    const by = document.createElement('td');
    const name = document.createElement('span');
    name.className = 'history-by';
    name.textContent = actorName(session.created_by);
    const position = document.createElement('span');
    position.className = 'history-position';
    position.textContent = session.position || '—';
    position.setAttribute('aria-label', `${t('history.col.position')} ${session.position || '—'}`);
    by.append(name, position);
    const report = document.createElement('td');
    const reportLink = document.createElement('a');
    reportLink.className = 'history-report';
    reportLink.href = reportUrls(session.id).page;
    reportLink.textContent = t('history.report');
    reportLink.setAttribute(
      'aria-label',
      t('history.report.label', { when: `${formatDate(session.created_at)} ${formatTime(session.created_at)}` }),
    );
    report.append(reportLink);
    row.append(when, who, state, outcome, by, report);
    return row;
  }

  /**
   * History rows do not carry the invitations: fetch the session once (again
   * when it changed) to show whom the patient's link went to.
   * @private
   * @param {Session} session
   * @param {string} caller the caller's number, shown meanwhile
   */
  async loadDestination(session, caller) {
    const key = `${session.id}@${session.updated_at}`;
    if (this.fetching.has(key)) {
      return;
    }
    this.fetching.add(key);
    let destination = caller || '—';
    try {
      const detail = await fetchSession(session.id);
      const patient = patientInvitation(detail);
      if (patient) {
        destination = t('history.destination', {
          destination: displayDestination(patient.destination),
          channel: channelName(patient.channel),
        });
      }
      this.destinations.set(session.id, { updatedAt: session.updated_at, destination });
    } catch {
      // The caller's number (or a dash) stays; the next refresh tries again.
    } finally {
      this.fetching.delete(key);
    }
    for (const row of this.body.rows) {
      if (row.dataset.sessionId === session.id) {
        const cell = row.querySelector('.history-number');
        if (cell) {
          cell.textContent = breakable(destination);
        }
      }
    }
  }

  /**
   * @private
   * @param {unknown} error
   */
  showProblem(error) {
    if (!(error instanceof ApiError && error.status === 401)) {
      this.showError(errorMessage(error));
    }
  }

  /**
   * @private
   * @param {string} message empty to clear
   */
  showError(message) {
    const error = this.field('error');
    error.textContent = message;
    error.hidden = !message;
  }

  /**
   * @private
   * @param {boolean} busy
   */
  setBusy(busy) {
    this.element.setAttribute('aria-busy', String(busy));
    const submit = /** @type {HTMLButtonElement} */ (this.field('submit'));
    submit.disabled = busy;
  }

  /**
   * @private
   * @param {string} name
   * @returns {HTMLElement}
   */
  field(name) {
    return /** @type {HTMLElement} */ (this.element.querySelector(`[data-field="${name}"]`));
  }
}
