/**
 * The regulator's shared screen on the patient's page: when a regulator
 * shares, the page asks to watch, answers the service's offer (receive only:
 * the page sends nothing back), and shows the screen large, labelled « Écran
 * partagé par le régulateur », above its own camera's preview, which shrinks.
 * When the share stops, the page is as before.
 * @module screen
 */

import { gatheringComplete } from './publisher.js';

/** Delays before watching again after a lost subscription (then the last one). */
export const RETRY_DELAYS_MS = [500, 1000, 2000, 4000];

/**
 * The delay before the `attempt`-th new try (0-based).
 * @param {number} attempt
 * @returns {number}
 */
export function retryDelay(attempt) {
  return RETRY_DELAYS_MS[Math.min(Math.max(attempt, 0), RETRY_DELAYS_MS.length - 1)];
}

/** The shared screen's part of the page. */
export class SharedScreen {
  /**
   * @param {(message: object) => boolean} send on the page's socket; false when it is down
   * @param {HTMLElement} app the page's root (`data-screen` is set on it)
   * @param {HTMLElement} section the shared screen's section
   * @param {HTMLVideoElement} video where the screen is drawn
   */
  constructor(send, app, section, video) {
    this.send = send;
    this.app = app;
    this.section = section;
    this.video = video;
    /** @type {RTCPeerConnection | null} */
    this.pc = null;
    /** A regulator shares: the page wants to show it. */
    this.active = false;
    this.retries = 0;
    this.retryTimer = 0;
    video.muted = true;
    video.playsInline = true;
    video.autoplay = true;
    // The section is hidden until a frame comes (no black box while connecting): a hidden video
    // still loads its first frame.
    video.addEventListener('loadeddata', () => {
      if (this.active) {
        this.retries = 0;
        this.show(true);
      }
    });
  }

  /**
   * A `screen.*` message from the service.
   * @param {any} message
   */
  async onMessage(message) {
    switch (message.type) {
      case 'screen.started':
        this.active = true;
        this.retries = 0;
        this.watch();
        break;
      case 'screen.offer':
        if (this.active) {
          await this.answer(message);
        }
        break;
      case 'screen.left':
        this.retryLater();
        break;
      case 'screen.stopped':
        this.stop();
        break;
      default:
        break;
    }
  }

  /**
   * The service refused a screen message (the share ended meanwhile): back to normal.
   * @param {string} errorId
   * @returns {boolean} whether the error was the screen's
   */
  onError(errorId) {
    if (errorId !== 'screen_share_inactive') {
      return false;
    }
    this.stop();
    return true;
  }

  /** A new socket (the service forgot the old subscription): it says again if a share runs. */
  reset() {
    this.stop();
  }

  /** The share stopped, or the page is done: the page as before. */
  stop() {
    this.active = false;
    window.clearTimeout(this.retryTimer);
    this.closePeer();
    this.video.srcObject = null;
    this.show(false);
  }

  /** @private */
  watch() {
    window.clearTimeout(this.retryTimer);
    this.closePeer();
    if (!this.send({ type: 'screen.watch' })) {
      // The socket is down: its next welcome starts over.
      this.stop();
    }
  }

  /**
   * @private
   * @param {any} message
   */
  async answer(message) {
    this.closePeer();
    const pc = new RTCPeerConnection({ iceServers: Array.isArray(message.ice_servers) ? message.ice_servers : [] });
    this.pc = pc;
    pc.addEventListener('track', (event) => {
      this.video.srcObject = event.streams[0] || new MediaStream([event.track]);
      this.video.play().catch(() => {});
    });
    pc.addEventListener('connectionstatechange', () => {
      if (this.pc === pc && pc.connectionState === 'failed') {
        this.retryLater();
      }
    });
    try {
      await pc.setRemoteDescription({ type: 'offer', sdp: String(message.sdp) });
      await pc.setLocalDescription(await pc.createAnswer());
      await gatheringComplete(pc);
      if (this.pc !== pc) {
        return;
      }
      this.send({ type: 'screen.answer', sdp: /** @type {RTCSessionDescription} */ (pc.localDescription).sdp });
    } catch (error) {
      console.warn('shared screen could not be answered', error);
      this.retryLater();
    }
  }

  /** @private */
  retryLater() {
    if (!this.active) {
      return;
    }
    this.closePeer();
    window.clearTimeout(this.retryTimer);
    this.retryTimer = window.setTimeout(() => this.watch(), retryDelay(this.retries));
    this.retries += 1;
  }

  /**
   * @private
   * @param {boolean} shown
   */
  show(shown) {
    this.section.hidden = !shown;
    this.app.dataset.screen = shown ? 'on' : 'off';
  }

  /** @private */
  closePeer() {
    const pc = this.pc;
    this.pc = null;
    if (pc) {
      pc.getTransceivers().forEach((transceiver) => {
        try {
          transceiver.stop();
        } catch {
          // closed already
        }
      });
      pc.close();
    }
  }
}
