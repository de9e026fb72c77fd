/**
 * The regulator's console: wires the header, the call board, the cards and
 * the WebSocket that tells which calls reach this position.
 * @module main
 */

import { ApiError, fetchMe } from './api.js';
import { CallBoard } from './calls.js';
import { CallCard, callerNumberText, kindBadge } from './callcard.js';
import { errorMessage, messageFor } from './errors.js';
import {
  renderAccount,
  renderConnection,
  renderPosition,
  renderTelephony,
  setUpLogout,
  setUpPositionDialog,
  showServerNotice,
} from './header.js';
import { applyTranslations, loadCatalogue, t } from './i18n.js';
import { rememberPosition } from './position.js';
import { renderRecent } from './recent.js';
import { ReconnectingSocket, socketUrl } from './socket.js';

/** Key of the card shown when there is no call (manual invitation). */
const MANUAL = '';

/** Least time between two session checks after the socket drops. */
const SESSION_CHECK_INTERVAL_MS = 5000;

/**
 * @template {HTMLElement} T
 * @param {string} id
 * @returns {T}
 */
function byId(id) {
  const element = document.getElementById(id);
  if (!element) {
    throw new Error(`Missing element #${id}`);
  }
  return /** @type {T} */ (element);
}

/** The console page's state and rendering. */
class Console {
  constructor() {
    this.board = new CallBoard();
    /** @type {Map<string, CallCard>} cards by call id, kept so typed text survives */
    this.cards = new Map();
    this.stage = byId('stage');
    this.cardTemplate = /** @type {HTMLTemplateElement} */ (byId('call-card-template'));
    this.recentTemplate = /** @type {HTMLTemplateElement} */ (byId('recent-item-template'));
    this.recentList = /** @type {HTMLOListElement} */ (byId('recent-list'));
    this.recentEmpty = byId('recent-empty');
    this.announcer = byId('announcer');
    this.lastSessionCheck = 0;
    this.socket = new ReconnectingSocket(socketUrl(), {
      onMessage: (message) => this.handleMessage(message),
      onStateChange: (state) => renderConnection(state),
      onDisconnect: () => this.checkSession(),
    });
  }

  /**
   * Show the session and start listening for calls.
   * @param {import('./api.js').Me} me
   */
  start(me) {
    renderAccount(me.account);
    this.setPosition(me.position);
    setUpLogout();
    setUpPositionDialog(
      () => this.board.position,
      (changed) => {
        this.setPosition(changed.position);
        // The server binds the socket to the session's position: a new
        // connection brings the `hello` of the new position.
        this.socket.reconnectNow();
      },
    );
    this.render();
    this.socket.start();
  }

  /**
   * @param {string | null} position
   */
  setPosition(position) {
    this.board.position = position;
    renderPosition(position);
    if (position) {
      rememberPosition(position);
    }
  }

  /**
   * Apply one server message.
   * @param {any} message
   */
  handleMessage(message) {
    switch (message.type) {
      case 'hello':
        this.setPosition(message.position ?? null);
        this.board.reset(message.position ?? null, Array.isArray(message.calls) ? message.calls : []);
        if (message.telephony) {
          renderTelephony(message.telephony.state, message.telephony.detail);
        }
        this.render();
        break;
      case 'offer':
        this.board.offer(message.call);
        this.render();
        this.announce(message.call);
        this.focusMainCard();
        break;
      case 'call.updated':
        this.board.update(message.call);
        this.render();
        break;
      case 'call.moved':
        this.board.moved(message.call);
        this.render();
        break;
      case 'telephony':
        renderTelephony(message.state, message.detail);
        break;
      case 'error':
        showServerNotice(messageFor(String(message.error_id || 'unknown'), message.message, message.details));
        break;
      case 'pong':
        break;
      default:
        console.debug('Ignoring message', message.type);
    }
  }

  /** Redraw the main card and the recent list from the board. */
  render() {
    const main = this.board.mainCall();
    const key = main ? main.call_id : MANUAL;
    let card = this.cards.get(key);
    if (!card) {
      card = new CallCard(this.cardTemplate, main);
      this.cards.set(key, card);
    }
    if (main) {
      card.update(main, { movedAway: this.board.isMovedAway(main) });
    }
    if (this.stage.firstElementChild !== card.element) {
      this.stage.replaceChildren(card.element);
    }
    for (const callId of this.cards.keys()) {
      if (callId !== MANUAL && !this.board.find(callId)) {
        this.cards.delete(callId);
      }
    }
    const focusedRecent =
      document.activeElement instanceof HTMLElement && this.recentList.contains(document.activeElement)
        ? document.activeElement.closest('li')?.dataset.callId
        : undefined;
    renderRecent(
      this.recentList,
      this.recentEmpty,
      this.recentTemplate,
      this.board.recentCalls(),
      (call) => this.board.isMovedAway(call),
      (callId) => {
        this.board.pin(callId);
        this.render();
        this.focusMainCard(true);
      },
    );
    if (focusedRecent) {
      const item = [...this.recentList.children].find(
        (element) => element instanceof HTMLElement && element.dataset.callId === focusedRecent,
      );
      item?.querySelector('button')?.focus();
    }
    document.title =
      main && this.board.isLiveHere(main)
        ? t('console.page_title.call', { number: callerNumberText(main), line: main.line })
        : t('console.page_title');
  }

  /**
   * Put the focus in the main card's field, unless the regulator is typing
   * somewhere else (a dialog, another field).
   * @param {boolean} [force]
   */
  focusMainCard(force = false) {
    const active = document.activeElement;
    const busyElsewhere =
      active &&
      active !== document.body &&
      !this.stage.contains(active) &&
      (active.closest('dialog[open]') || active.matches('input, textarea, select'));
    if (force || !busyElsewhere) {
      const main = this.board.mainCall();
      this.cards.get(main ? main.call_id : MANUAL)?.focus();
    }
  }

  /**
   * Tell screen readers that a call arrived.
   * @param {import('./calls.js').Call} call
   */
  announce(call) {
    this.announcer.textContent = [
      t('call.line', { line: call.line }),
      callerNumberText(call),
      kindBadge(call).text,
    ].join(' — ');
  }

  /** After the socket drops, find out whether the session is still valid. */
  checkSession() {
    const now = Date.now();
    if (now - this.lastSessionCheck < SESSION_CHECK_INTERVAL_MS) {
      return;
    }
    this.lastSessionCheck = now;
    // fetchMe() goes to the login page on 401; other failures mean the server
    // is unreachable, which the reconnection indicator already shows.
    fetchMe().catch(() => {});
  }
}

/**
 * Load the session, retrying while the server is unreachable.
 * @returns {Promise<import('./api.js').Me | null>} null when leaving for the login page
 */
async function loadSession() {
  let delay = 1000;
  for (;;) {
    try {
      return await fetchMe();
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        return null;
      }
      showServerNotice(errorMessage(error));
      await new Promise((resolve) => window.setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 10000);
    }
  }
}

async function main() {
  await loadCatalogue();
  applyTranslations();
  document.title = t('console.page_title');
  const me = await loadSession();
  if (!me) {
    return;
  }
  byId('server-notice').hidden = true;
  new Console().start(me);
}

main();
