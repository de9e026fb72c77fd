/**
 * The camera's video on its way to the service, kept alive: a new connection
 * as soon as the current one stops answering (ICE disconnected for 2 s,
 * failed, nothing heard from the service for 2 s) or the phone changes network
 * (Wi-Fi to mobile data, back online), through a new socket too (the old one
 * rode the same path), since the service cannot restart ICE; later and later
 * while new ones keep failing. Each new connection is reported to the service (`reconnecting`),
 * and the sender's quality follows the link (`linkadapt.js`).
 *
 * Loaded while the patient answers the camera prompt: the consent screen does
 * not wait for it.
 * @module sending
 */

import { LinkAdapter, WEAK_STEP } from './linkadapt.js';
import { Publisher } from './publisher.js';
import { networkChanged, ReconnectPolicy } from './reconnect.js';

/** How long a 'disconnected' connection may recover by itself. */
export const DISCONNECTED_GRACE_MS = 2000;
/** A connection not up after this long (offer or answer lost with a dead socket) is replaced. */
export const CONNECT_TIMEOUT_MS = 15000;
/**
 * Nothing received from the service for this long while connected: the path is gone (the
 * service's receiver reports several times a second), long before ICE says so.
 */
export const SILENT_MS = 2000;

/** @typedef {'network_change' | 'ice_disconnected' | 'ice_failed'} Reason */

/**
 * @typedef {object} VideoLinkOptions
 * @property {() => RTCIceServer[]} iceServers from the latest welcome
 * @property {() => MediaStreamTrack | null} track the camera's track
 * @property {(sdp: string) => boolean} sendOffer whether the socket took it
 * @property {() => boolean} [trickle] whether the service takes candidates after the offer
 * @property {(message: import('./publisher.js').CandidateMessage) => void} [sendCandidate] a
 *   candidate gathered after the offer (trickle)
 * @property {(message: object) => void} report a message for the service (kept until sent)
 * @property {(key: string, tone: 'wait' | 'live') => void} status the page's status line
 * @property {() => void} restartSignalling open a new socket now (its welcome publishes again)
 * @property {(state: RTCPeerConnectionState, publisher: Publisher) => void} onState each state
 * @property {(verdict: import('./linkadapt.js').VideoVerdict) => void} onVerdict the link's
 *   verdict on video, each time it changes (too weak for it, or carrying it)
 * @property {(publisher: Publisher) => void} [onPublisher] each new connection, before its offer
 * @property {(publisher: Publisher) => boolean} [onFailed] a connection failed: true when the
 *   page said why itself (the new attempt then comes without a word of its own)
 */

/** @typedef {{connection?: EventTarget & {type?: string}}} NetworkInformationHolder */

/** The camera's connection to the service, replaced whenever it breaks. */
export class VideoLink {
  /** @param {VideoLinkOptions} options */
  constructor(options) {
    this.options = options;
    /** @type {Publisher | null} */
    this.publisher = null;
    /** @type {Publisher | null} the one it replaces, kept until the new one is up */
    this.previous = null;
    /** @type {LinkAdapter | null} */
    this.adapter = null;
    this.policy = new ReconnectPolicy();
    /** @type {Reason | null} the reason of the next connection, told with its offer */
    this.pendingReason = null;
    this.step = 0;
    this.retryTimer = 0;
    this.graceTimer = 0;
    this.connectTimer = 0;
    this.silenceTimer = 0;
    this.closed = false;
    const connection = /** @type {NetworkInformationHolder} */ (navigator).connection;
    this.connection = connection;
    this.networkType = connection ? connection.type : undefined;
    this.onOnline = () => this.networkChange();
    this.onConnection = () => {
      const type = connection ? connection.type : undefined;
      const changed = networkChanged(this.networkType, type);
      this.networkType = type;
      if (changed) {
        this.networkChange();
      }
    };
    window.addEventListener('online', this.onOnline);
    connection?.addEventListener('change', this.onConnection);
  }

  /** @returns {RTCPeerConnectionState} */
  get state() {
    return this.publisher ? this.publisher.pc.connectionState : 'closed';
  }

  /**
   * Send the camera with a new connection, replacing the current one.
   * @param {Reason | null} reason why, when it replaces a broken one
   */
  async publish(reason) {
    this.clearTimers();
    const why = reason || this.pendingReason;
    this.pendingReason = null;
    if (why) {
      this.options.report({ type: 'reconnecting', reason: why });
      this.options.status(why === 'network_change' ? 'network' : 'reconnecting', 'wait');
    }
    const track = this.options.track();
    if (this.closed || !track) {
      return;
    }
    // Make before break: the old connection may still carry the video (a network about to go,
    // a path that recovers) until the service takes the new one, which replaces it there.
    window.clearInterval(this.silenceTimer);
    this.adapter?.stop();
    this.adapter = null;
    if (this.publisher) {
      this.previous?.close();
      this.previous = this.publisher;
    }
    const publisher = new Publisher(track, {
      iceServers: this.options.iceServers(),
      onState: (state) => this.onState(publisher, state),
      trickle: this.options.trickle ? this.options.trickle() : false,
    });
    this.publisher = publisher;
    this.options.onPublisher?.(publisher);
    this.connectTimer = window.setTimeout(() => {
      if (this.publisher === publisher) {
        this.retry('ice_failed', true);
      }
    }, CONNECT_TIMEOUT_MS);
    try {
      const sdp = await publisher.offer();
      if (this.publisher !== publisher) {
        return;
      }
      performance.mark('visioregul:offer');
      if (!this.options.sendOffer(sdp)) {
        // The socket is down: its next welcome brings a new offer.
        this.options.status('reconnecting', 'wait');
      } else if (this.options.sendCandidate) {
        const send = this.options.sendCandidate;
        // Only while it is the page's connection: a replaced one's candidates would be ignored.
        publisher.trickleTo((message) => {
          if (this.publisher === publisher) {
            send(message);
          }
        });
      }
    } catch (error) {
      console.warn('offer failed', error);
      this.retry(null);
    }
  }

  /**
   * Apply the service's answer.
   * @param {string} sdp
   */
  async accept(sdp) {
    if (!this.publisher) {
      return;
    }
    try {
      performance.mark('visioregul:answer');
      await this.publisher.accept(sdp);
    } catch (error) {
      console.warn('answer refused', error);
      this.retry(null);
    }
  }

  /**
   * Another camera on the same connection; a new connection when it is gone.
   * @param {MediaStreamTrack} track
   */
  async replaceTrack(track) {
    try {
      if (this.publisher) {
        await this.publisher.replaceTrack(track);
      }
    } catch {
      this.publish(null);
    }
  }

  /**
   * Try again later (the service refused a message, an offer failed...).
   * @param {Reason | null} reason told to the service with the new offer
   * @param {boolean} [restart] through a new socket (the current one may be dead)
   * @param {boolean} [quiet] the page's status already says why
   */
  retry(reason, restart = false, quiet = false) {
    this.clearTimers();
    if (!quiet) {
      this.options.status('reconnecting', 'wait');
    }
    const now = Date.now();
    const delay = reason === 'network_change' ? this.policy.onNewNetwork(now) : this.policy.nextDelay(now);
    this.retryTimer = window.setTimeout(() => {
      if (restart) {
        this.pendingReason = reason;
        this.options.restartSignalling();
      } else {
        this.publish(reason);
      }
    }, delay);
  }

  /** Stop for good: the connection, the timers, the network listeners. */
  close() {
    this.closed = true;
    this.clearTimers();
    this.drop();
    window.removeEventListener('online', this.onOnline);
    this.connection?.removeEventListener('change', this.onConnection);
  }

  /**
   * @private
   * @param {Publisher} publisher
   * @param {RTCPeerConnectionState} state
   */
  onState(publisher, state) {
    if (publisher !== this.publisher || this.closed) {
      return;
    }
    this.options.onState(state, publisher);
    if (state === 'connected') {
      performance.mark('visioregul:connected');
      this.previous?.close();
      this.previous = null;
      this.clearTimers();
      this.policy.connected(Date.now());
      this.step = 0;
      this.options.status('live', 'live');
      this.adapt(publisher);
      this.listen(publisher);
    } else if (state === 'disconnected') {
      this.options.status('reconnecting', 'wait');
      window.clearTimeout(this.graceTimer);
      this.graceTimer = window.setTimeout(() => {
        if (this.publisher === publisher && publisher.pc.connectionState !== 'connected') {
          this.retry('ice_disconnected', true);
        }
      }, DISCONNECTED_GRACE_MS);
    } else if (state === 'failed' || state === 'closed') {
      if (this.options.onFailed?.(publisher)) {
        this.retry(null, false, true);
        return;
      }
      this.retry('ice_failed', true);
    }
  }

  /**
   * Watch what the service sends back (its receiver's reports): silence on a connected path
   * means the phone's network went away, which ICE takes many seconds to tell.
   * @private
   * @param {Publisher} publisher
   */
  listen(publisher) {
    window.clearInterval(this.silenceTimer);
    let received = -1;
    let since = Date.now();
    this.silenceTimer = window.setInterval(async () => {
      let bytes = -1;
      try {
        (await publisher.pc.getStats()).forEach((/** @type {any} */ stat) => {
          if (stat.type === 'transport' && typeof stat.bytesReceived === 'number') {
            bytes = stat.bytesReceived;
          }
        });
      } catch {
        return; // closed meanwhile
      }
      const now = Date.now();
      if (bytes !== received) {
        received = bytes;
        since = now;
      } else if (
        now - since >= SILENT_MS &&
        this.publisher === publisher &&
        publisher.pc.connectionState === 'connected'
      ) {
        window.clearInterval(this.silenceTimer);
        this.retry('ice_disconnected', true);
      }
    }, 500);
  }

  /**
   * @private
   * @param {Publisher} publisher
   */
  adapt(publisher) {
    this.adapter?.stop();
    this.adapter = new LinkAdapter(publisher.pc, publisher.transceiver.sender, {
      onStep: (step) => {
        this.step = step;
        if (this.publisher === publisher && publisher.pc.connectionState === 'connected') {
          this.options.status(step >= WEAK_STEP ? 'weak' : 'live', 'live');
        }
      },
      onVerdict: (verdict) => {
        if (this.publisher === publisher) {
          this.options.onVerdict(verdict);
        }
      },
      probe: () => publisher.probeLink(),
    });
    this.adapter.start();
  }

  /**
   * The phone changed network: the current connection's path is gone, and its
   * socket may be too without knowing it yet. A new socket, whose welcome publishes.
   * @private
   */
  networkChange() {
    if (this.closed) {
      return;
    }
    this.retry('network_change', true);
    this.options.status('network', 'wait');
  }

  /** @private */
  drop() {
    window.clearInterval(this.silenceTimer);
    this.adapter?.stop();
    this.adapter = null;
    this.previous?.close();
    this.previous = null;
    if (this.publisher) {
      this.publisher.close();
      this.publisher = null;
    }
  }

  /** @private */
  clearTimers() {
    window.clearTimeout(this.retryTimer);
    window.clearTimeout(this.graceTimer);
    window.clearTimeout(this.connectTimer);
  }
}
