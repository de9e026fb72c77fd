/**
 * The regulator's console: wires the header, the call board, the cards, the
 * session rooms, the history, and the WebSocket that tells which calls reach
 * this position and how its sessions move.
 *
 * Three views share the main area, each with its URL hash (see `router.js`):
 * the call card, a session's room (`#/session/<id>`), the history (`#/history`).
 * @module main
 */

import { ApiError, fetchMe } from './api.js';
import { CallBoard } from './calls.js';
import { CallCard, callerNumberText, isInviteShortcut, kindBadge } from './callcard.js';
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
import { HistoryView } from './history.js';
import { applyTranslations, loadCatalogue, t } from './i18n.js';
import { keepRouteOnLanguageSwitch } from './language.js';
import { OutboxPanel } from './outbox.js';
import { rememberPosition } from './position.js';
import { renderRecent } from './recent.js';
import { Room } from './room.js';
import { Alerts } from './notify.js';
import { Router } from './router.js';
import { displayDestination } from './sessions.js';
import { ReconnectingSocket, socketUrl } from './socket.js';
import { TextPanel } from './text.js';

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

/**
 * The calm notice of a console opened by the CAD on a call it does not know
 * (`?notice=cad_call_unknown`); the parameter leaves the URL so a reload does
 * not show it again.
 */
function showCadNotice() {
  const notice = byId('cad-notice');
  byId('cad-notice-dismiss').addEventListener('click', () => {
    notice.hidden = true;
  });
  const params = new URLSearchParams(window.location.search);
  if (params.get('notice') === 'cad_call_unknown') {
    notice.hidden = false;
    params.delete('notice');
    const query = params.toString();
    window.history.replaceState(
      window.history.state,
      '',
      `${window.location.pathname}${query ? `?${query}` : ''}${window.location.hash}`,
    );
  }
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
    this.layout = /** @type {HTMLElement} */ (document.querySelector('main.layout'));
    this.roomSide = byId('room-side');
    this.callNotice = byId('call-notice');
    this.lastSessionCheck = 0;
    /** @type {string | null} the call whose card was asked for by the URL, until shown */
    this.wantedCall = null;
    /** The signed-in account's login. */
    this.username = '';
    /** @type {'call' | 'room' | 'history'} what the main area shows */
    this.view = 'call';
    /** @type {Room | null} */
    this.room = null;
    /** @type {HistoryView | null} created when first shown */
    this.history = null;
    this.outbox = new OutboxPanel();
    this.alerts = new Alerts(byId('alerts'), () => this.setTitle());
    /** @type {TextPanel | null} the open room's written messages */
    this.texts = null;
    /** @type {import('./invite.js').InvitationHandlers} */
    this.invitationHandlers = {
      onOpened: (session) => this.enterRoom(session.id, session, 'call'),
      onRejoin: (sessionId) => this.enterRoom(sessionId, null, 'call'),
    };
    this.router = new Router((route) => {
      if (route.name === 'session') {
        this.showRoom(route.id, null, this.view === 'history' ? 'history' : 'call');
      } else if (route.name === 'history') {
        this.showHistory();
      } else {
        if (route.id) {
          // Opened on a call (the CAD's deep link): its card, as soon as the call is known.
          this.wantedCall = route.id;
          this.pinWantedCall();
        }
        this.showCall();
      }
    });
    this.socket = new ReconnectingSocket(socketUrl(), {
      onMessage: (message) => this.handleMessage(message),
      onStateChange: (state) => {
        renderConnection(state);
        if (state === 'open') {
          // Updates may have been missed while the link was down.
          this.room?.refresh();
          // The service ended this socket's subscriptions when it dropped.
          if (this.room && this.room.video.active) {
            this.room.video.watch();
          }
          this.outbox.refreshSoon();
        }
      },
      onDisconnect: () => {
        // The service ends a socket's screen share when the socket drops.
        this.room?.screen.lost();
        this.checkSession();
      },
    });
  }

  /**
   * Show the session and start listening for calls.
   * @param {import('./api.js').Me} me
   */
  start(me) {
    this.username = me.account.username;
    renderAccount(me.account);
    this.setPosition(me.position);
    setUpLogout();
    const choosePosition = setUpPositionDialog(
      () => this.board.position,
      me.positions || [],
      (changed) => {
        this.setPosition(changed.position);
        // The server binds the socket to the session's position: a new
        // connection brings the `hello` of the new position.
        if (this.socket.state === 'stopped') {
          this.socket.start();
        } else {
          this.socket.reconnectNow();
        }
      },
    );
    if (!me.position && (me.positions || []).length > 1) {
      // Several desks and none bound at login: ask which one, among the account's.
      choosePosition();
    }
    showCadNotice();
    byId('history-open').addEventListener('click', () => this.router.go({ name: 'history' }));
    byId('call-notice-button').addEventListener('click', () => this.router.go({ name: 'call' }));
    document.addEventListener('keydown', (event) => this.onShortcut(event));
    this.render();
    this.router.follow();
    if (me.outbox) {
      this.outbox.refresh();
    } else {
      // Production: real SMS and e-mails, no outbox to show (and no 404 to ask for).
      this.outbox.available = false;
    }
    if (me.position) {
      // The socket hears a position's calls: none until one is chosen.
      this.socket.start();
    }
  }

  /**
   * Show the card of the call the URL asked for, once the board knows it.
   * @private
   */
  pinWantedCall() {
    if (this.wantedCall && this.board.find(this.wantedCall)) {
      this.board.pin(this.wantedCall);
      this.wantedCall = null;
      this.render();
    }
  }

  /**
   * Enter a session's room (after "Lancer l'invitation", or to go back into it).
   * @param {string} sessionId
   * @param {import('./api.js').Session | null} session its detail when just fetched
   * @param {'call' | 'history'} from where the back button leads
   */
  enterRoom(sessionId, session, from) {
    this.showRoom(sessionId, session, from);
    this.router.go({ name: 'session', id: sessionId });
  }

  /**
   * Show a session's room in the main area.
   * @param {string} sessionId
   * @param {import('./api.js').Session | null} session
   * @param {'call' | 'history'} from
   */
  showRoom(sessionId, session, from) {
    if (this.view === 'room' && this.room && this.room.sessionId === sessionId) {
      return;
    }
    this.room?.close();
    this.history?.close();
    const room = new Room(sessionId, {
      from,
      onBack: () => this.router.go({ name: from === 'history' ? 'history' : 'call' }),
      lineOf: (callId) => this.board.find(callId)?.line ?? null,
      send: (message) => this.socket.send(message),
      self: this.username,
      onRender: (shown) => {
        if (this.room === room) {
          this.setTitle();
          // Each reload of the session (live, or every few seconds) brings its messages too,
          // for a console that is not at the session's position.
          this.texts?.fromSession(shown);
        }
      },
    });
    this.room = room;
    this.setView('room');
    this.stage.replaceChildren(room.element);
    this.texts = new TextPanel(sessionId, (message) => this.socket.send(message));
    this.roomSide.replaceChildren(this.texts.element, room.side);
    room.open(session);
    room.focus();
    this.setTitle();
  }

  /** Show the history in the main area. */
  showHistory() {
    this.closeRoom();
    if (!this.history) {
      this.history = new HistoryView(
        (sessionId) => this.enterRoom(sessionId, null, 'history'),
        () => this.router.go({ name: 'call' }),
      );
    }
    const wasShown = this.view === 'history';
    this.setView('history');
    if (this.stage.firstElementChild !== this.history.element) {
      this.stage.replaceChildren(this.history.element);
    }
    this.history.load();
    if (!wasShown) {
      this.history.focus();
    }
    this.setTitle();
  }

  /** Back to the call card (leaving a room ends nothing). */
  showCall() {
    if (this.view === 'call') {
      return;
    }
    this.closeRoom();
    this.history?.close();
    this.setView('call');
    this.callNotice.hidden = true;
    this.render();
    this.focusMainCard(true);
  }

  /** @private */
  closeRoom() {
    if (this.room) {
      this.room.close();
      this.room = null;
    }
    this.texts = null;
    this.roomSide.replaceChildren();
  }

  /**
   * @private
   * @param {'call' | 'room' | 'history'} view
   */
  setView(view) {
    this.view = view;
    this.layout.dataset.view = view;
    const label = { call: 'console.stage', room: 'console.stage.room', history: 'history.title' }[view];
    this.stage.setAttribute('aria-label', t(label));
    this.roomSide.hidden = view !== 'room';
    byId('recent').hidden = view === 'room';
    byId('history-open').setAttribute('aria-pressed', String(view === 'history'));
    if (view === 'call') {
      this.callNotice.hidden = true;
    }
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
      case 'video.offer':
      case 'video.left':
      case 'video.error':
        if (this.room && this.room.sessionId === message.session_id) {
          this.room.video.onMessage(message);
        }
        break;
      case 'text.accepted':
      case 'text.error':
        this.texts?.onMessage(message);
        break;
      case 'screen.ready':
      case 'screen.answer':
      case 'screen.stopped':
      case 'screen.error':
        if (this.room && this.room.sessionId === message.session_id) {
          this.room.screen.onMessage(message);
        }
        break;
      case 'camera.state':
      case 'command.result':
        if (this.room && this.room.sessionId === message.session_id) {
          this.room.remote.onMessage(message);
        }
        break;
      case 'location.result':
      case 'location.stopped':
        if (this.room && this.room.sessionId === message.session_id) {
          this.room.location.onMessage(message);
        }
        break;
      case 'hello':
        this.setPosition(message.position ?? null);
        this.board.reset(message.position ?? null, Array.isArray(message.calls) ? message.calls : []);
        this.pinWantedCall();
        if (message.telephony) {
          renderTelephony(message.telephony.state, message.telephony.detail);
        }
        this.render();
        break;
      case 'offer':
        this.board.offer(message.call);
        this.render();
        this.announce(message.call);
        if (this.view === 'call') {
          this.focusMainCard();
        } else {
          this.showCallNotice(message.call);
        }
        break;
      case 'session.updated':
        this.onSessionUpdated(message);
        break;
      case 'resync':
        // Updates from another instance may have been missed: read the sessions again.
        this.room?.refresh();
        this.history?.refreshSoon();
        this.outbox.refreshSoon();
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

  /**
   * A session moved: the room that shows it, the history and the outbox follow.
   * @param {any} message
   */
  onSessionUpdated(message) {
    const sessionId = message.session && message.session.id;
    this.texts?.onMessage(message);
    if (message.event) {
      this.alerts.onEvent(message.event, displayDestination((message.session && message.session.caller_number) || ''));
    }
    if (this.room && this.room.sessionId === sessionId) {
      this.room.refresh();
    }
    if (message.session) {
      for (const card of this.cards.values()) {
        card.followSession(message.session);
      }
    }
    if (this.view === 'history') {
      this.history?.refreshSoon();
    }
    this.outbox.refreshSoon();
  }

  /**
   * A call arrived while a room or the history is shown: say so, without
   * taking the regulator out of what they are doing.
   * @param {import('./calls.js').Call} call
   */
  showCallNotice(call) {
    byId('call-notice-text').textContent = t('notice.call', {
      line: call.line,
      number: callerNumberText(call),
    });
    this.callNotice.hidden = false;
  }

  /** The page title for the current view. */
  setTitle() {
    this.setPageTitle();
    document.title = this.alerts.decorate(document.title);
  }

  /** @private */
  setPageTitle() {
    if (this.view === 'room' && this.room) {
      const destination = this.room.destination();
      document.title = destination
        ? t('console.page_title.room', { destination })
        : t('console.page_title.room.none');
      return;
    }
    if (this.view === 'history') {
      document.title = t('console.page_title.history');
      return;
    }
    const main = this.board.mainCall();
    document.title =
      main && this.board.isLiveHere(main)
        ? t('console.page_title.call', { number: callerNumberText(main), line: main.line })
        : t('console.page_title');
  }

  /** Redraw the main card and the recent list from the board. */
  render() {
    const main = this.board.mainCall();
    const key = main ? main.call_id : MANUAL;
    let card = this.cards.get(key);
    const drawn = !card && main !== null;
    if (!card) {
      card = new CallCard(this.cardTemplate, main, this.invitationHandlers);
      this.cards.set(key, card);
    }
    if (main) {
      card.update(main, { movedAway: this.board.isMovedAway(main) });
    }
    if (this.view === 'call' && this.stage.firstElementChild !== card.element) {
      this.stage.replaceChildren(card.element);
    }
    if (drawn && main) {
      // When a call's card first reaches the page, for the latency benchmark.
      performance.mark('visioregul:call-card', { detail: main.call_id });
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
        if (this.view === 'call') {
          this.render();
          this.focusMainCard(true);
        } else {
          this.router.go({ name: 'call' });
        }
      },
    );
    if (focusedRecent) {
      const item = [...this.recentList.children].find(
        (element) => element instanceof HTMLElement && element.dataset.callId === focusedRecent,
      );
      item?.querySelector('button')?.focus();
    }
    this.setTitle();
  }

  /**
   * The call card's key: "i" alone, outside any field and any open dialog,
   * launches the invitation of the card shown.
   * @param {KeyboardEvent} event
   */
  onShortcut(event) {
    if (this.view !== 'call' || document.querySelector('dialog[open]')) {
      return;
    }
    if (!isInviteShortcut(event, /** @type {Element | null} */ (event.target))) {
      return;
    }
    const main = this.board.mainCall();
    const card = main ? this.cards.get(main.call_id) : undefined;
    if (card && card.invite()) {
      event.preventDefault();
    }
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
  keepRouteOnLanguageSwitch();
  await loadCatalogue();
  applyTranslations();
  document.title = t('console.page_title');
  const me = await loadSession();
  if (!me) {
    return;
  }
  byId('server-notice').hidden = true;
  new Console().start(me);
  // The console answers from here on: what its load benchmark measures up to.
  performance.mark('visioregul:console-ready');
}

main();
