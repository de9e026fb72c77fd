/**
 * A WebSocket that reconnects by itself with a capped exponential backoff
 * (1, 2, 4, 8, 10, 10... seconds) and keeps the link alive with pings.
 * @module socket
 */

/**
 * @typedef {'connecting' | 'open' | 'reconnecting' | 'stopped'} SocketState
 */

/**
 * @typedef {object} SocketOptions
 * @property {(message: any) => void} onMessage called with each decoded JSON message
 * @property {(state: SocketState) => void} [onStateChange] called when the state changes
 * @property {() => void} [onDisconnect] called once each time an open link is lost
 * @property {number} [pingIntervalMs] delay between pings (20 s)
 * @property {number} [initialDelayMs] first reconnection delay (1 s)
 * @property {number} [maxDelayMs] longest reconnection delay (10 s)
 */

/**
 * The console's WebSocket URL on the page's own origin.
 * @param {string} [path]
 * @returns {string}
 */
export function socketUrl(path = '/console/ws') {
  const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${window.location.host}${path}`;
}

/** A JSON WebSocket that reconnects until `stop()` is called. */
export class ReconnectingSocket {
  /**
   * @param {string} url
   * @param {SocketOptions} options
   */
  constructor(url, options) {
    this.url = url;
    this.onMessage = options.onMessage;
    this.onStateChange = options.onStateChange ?? (() => {});
    this.onDisconnect = options.onDisconnect ?? (() => {});
    this.pingIntervalMs = options.pingIntervalMs ?? 20000;
    this.initialDelayMs = options.initialDelayMs ?? 1000;
    this.maxDelayMs = options.maxDelayMs ?? 10000;
    /** @type {SocketState} */
    this.state = 'stopped';
    /** @type {WebSocket | null} */
    this.ws = null;
    this.delayMs = this.initialDelayMs;
    this.retryTimer = 0;
    this.pingTimer = 0;
    this.lastReceived = 0;
  }

  /** Open the connection (no-op when already started). */
  start() {
    if (this.state !== 'stopped') {
      return;
    }
    this.setState('connecting');
    this.connect();
  }

  /** Close for good: no more reconnection. */
  stop() {
    this.setState('stopped');
    window.clearTimeout(this.retryTimer);
    this.stopPings();
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.close(1000);
    }
  }

  /**
   * Drop the current connection and connect again at once, e.g. after the
   * session's position changed (the server binds the socket to it).
   */
  reconnectNow() {
    if (this.state === 'stopped') {
      return;
    }
    window.clearTimeout(this.retryTimer);
    this.stopPings();
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.close(1000);
    }
    this.delayMs = this.initialDelayMs;
    this.setState('connecting');
    this.connect();
  }

  /**
   * Send a JSON message if the link is open.
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
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (error) {
      console.warn('WebSocket could not be created', error);
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.addEventListener('open', () => {
      if (this.ws !== ws) {
        return;
      }
      this.delayMs = this.initialDelayMs;
      this.lastReceived = Date.now();
      this.setState('open');
      this.startPings();
    });
    ws.addEventListener('message', (event) => {
      if (this.ws !== ws) {
        return;
      }
      this.lastReceived = Date.now();
      let message;
      try {
        message = JSON.parse(event.data);
      } catch (error) {
        console.warn('Ignoring a message that is not JSON', error);
        return;
      }
      if (message && typeof message === 'object' && typeof message.type === 'string') {
        this.onMessage(message);
      }
    });
    ws.addEventListener('close', () => {
      if (this.ws !== ws) {
        return;
      }
      this.ws = null;
      this.stopPings();
      this.onDisconnect();
      this.scheduleReconnect();
    });
    // An 'error' event is always followed by 'close', which does the work.
  }

  /** @private */
  scheduleReconnect() {
    if (this.state === 'stopped') {
      return;
    }
    this.setState('reconnecting');
    const delay = this.delayMs;
    this.delayMs = Math.min(this.delayMs * 2, this.maxDelayMs);
    window.clearTimeout(this.retryTimer);
    this.retryTimer = window.setTimeout(() => this.connect(), delay);
  }

  /** @private */
  startPings() {
    this.stopPings();
    this.pingTimer = window.setInterval(() => {
      // A link silent for two ping periods is dead even if the browser has not
      // noticed yet (e.g. a laptop woken from sleep): close it to reconnect.
      if (Date.now() - this.lastReceived > this.pingIntervalMs * 2 + 5000) {
        this.dropDeadLink();
        return;
      }
      this.send({ type: 'ping' });
    }, this.pingIntervalMs);
  }

  /**
   * Forget a link that stopped answering, without waiting for the closing
   * handshake (which never completes on a dead link), and reconnect.
   * @private
   */
  dropDeadLink() {
    const ws = this.ws;
    if (!ws) {
      return;
    }
    this.ws = null;
    this.stopPings();
    ws.close(4000);
    this.onDisconnect();
    this.scheduleReconnect();
  }

  /** @private */
  stopPings() {
    window.clearInterval(this.pingTimer);
    this.pingTimer = 0;
  }

  /**
   * @private
   * @param {SocketState} state
   */
  setState(state) {
    if (state !== this.state) {
      this.state = state;
      this.onStateChange(state);
    }
  }
}
