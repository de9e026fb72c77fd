/**
 * The page's WebSocket to the service (`/p/<token>/ws`), reconnecting by
 * itself (1, 2, 4, 8 s) until the service says the video is over, the link
 * is refused (close code 4401) or another browser took it (close code 4409).
 * @module signalling
 */

/** Close code of a link that is no longer valid for this browser. */
export const CLOSE_UNAUTHORIZED = 4401;
/** Close code of a link another browser opened since, before this one sent its video. */
export const CLOSE_TAKEN_OVER = 4409;

/**
 * @typedef {{ws: WebSocket, events: Event[], keep: (event: Event) => void}} EarlySocket
 */

/**
 * The socket early.js opened for `url` before this code loaded, with the events it heard so far,
 * or null; from now on none is opened there.
 * @param {string} url
 * @returns {EarlySocket | null}
 */
export function takeEarlySocket(url) {
  const holder = /** @type {{visioregulEarly?: EarlySocket, visioregulSignalling?: boolean}} */ (
    /** @type {unknown} */ (globalThis)
  );
  holder.visioregulSignalling = true;
  const early = holder.visioregulEarly;
  delete holder.visioregulEarly;
  if (!early) {
    return null;
  }
  for (const type of ['open', 'message', 'close']) {
    early.ws.removeEventListener(type, early.keep);
  }
  if (early.ws.url !== url) {
    early.ws.close(1000);
    return null;
  }
  return early;
}

/**
 * @typedef {object} SignallingOptions
 * @property {(message: any) => void} onMessage each decoded JSON message
 * @property {() => void} onDrop the link dropped (it reconnects by itself)
 * @property {() => void} onRefused the link is refused: no more reconnection
 * @property {() => void} onTakenOver another browser took the link: no more reconnection
 */

/** A JSON WebSocket on the link's own path. */
export class Signalling {
  /** @param {SignallingOptions} options */
  constructor(options) {
    const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
    const path = window.location.pathname.replace(/\/+$/, '');
    this.url = `${scheme}//${window.location.host}${path}/ws`;
    this.options = options;
    /** @type {WebSocket | null} */
    this.ws = null;
    this.stopped = false;
    this.delayMs = 1000;
    this.timer = 0;
    this.pingTimer = 0;
  }

  /** Connect (and keep connecting). */
  start() {
    this.stopped = false;
    this.connect();
  }

  /** Close for good. */
  stop() {
    this.stopped = true;
    window.clearTimeout(this.timer);
    window.clearInterval(this.pingTimer);
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.close(1000);
    }
  }

  /**
   * A new socket now: the phone changed network, and the current socket may be
   * dead without knowing it for many seconds.
   */
  restart() {
    if (this.stopped) {
      return;
    }
    window.clearInterval(this.pingTimer);
    const ws = this.ws;
    this.ws = null; // its close is not a drop: this is its replacement
    ws?.close(1000);
    this.delayMs = 1000;
    this.connect();
  }

  /**
   * Send a message if the link is open.
   * @param {object} message
   * @returns {boolean} whether it was sent
   */
  send(message) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(message));
      return true;
    }
    return false;
  }

  /** @private */
  connect() {
    window.clearTimeout(this.timer);
    const early = takeEarlySocket(this.url);
    const ws = early ? early.ws : new WebSocket(this.url);
    this.ws = ws;
    const onOpen = () => {
      this.delayMs = 1000;
      window.clearInterval(this.pingTimer);
      this.pingTimer = window.setInterval(() => this.send({ type: 'ping' }), 20000);
    };
    const onMessage = (/** @type {MessageEvent} */ event) => {
      if (this.ws !== ws) {
        return;
      }
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (message && typeof message.type === 'string') {
        this.options.onMessage(message);
      }
    };
    const onClose = (/** @type {CloseEvent} */ event) => {
      if (this.ws !== ws) {
        return;
      }
      this.ws = null;
      window.clearInterval(this.pingTimer);
      if (event.code === CLOSE_UNAUTHORIZED) {
        this.stopped = true;
        this.options.onRefused();
        return;
      }
      if (event.code === CLOSE_TAKEN_OVER) {
        // Reconnecting would take the link back from the browser the patient went on to.
        this.stopped = true;
        this.options.onTakenOver();
        return;
      }
      if (this.stopped) {
        return;
      }
      this.options.onDrop();
      const delay = this.delayMs;
      this.delayMs = Math.min(this.delayMs * 2, 8000);
      this.timer = window.setTimeout(() => this.connect(), delay);
    };
    // What the early socket heard before this code loaded, in order, then the rest as it comes.
    for (const event of early ? early.events : []) {
      if (event.type === 'open') {
        onOpen();
      } else if (event.type === 'message') {
        onMessage(/** @type {MessageEvent} */ (event));
      } else {
        onClose(/** @type {CloseEvent} */ (event));
      }
    }
    ws.addEventListener('open', onOpen);
    ws.addEventListener('message', onMessage);
    ws.addEventListener('close', onClose);
  }
}
