/**
 * The patient's video on a third party's page, when the regulator allowed
 * it: the page asks over its socket (`watch`), the service offers send-only
 * video, the page answers, and the frames are drawn in a muted `<video>`. A
 * lost subscription is asked for again with a growing delay.
 * @module watch
 */

import { gatheringComplete } from './publisher.js';

/** Delays before asking again after a failure (then the last one). */
const RETRY_DELAYS_MS = [500, 1000, 2000, 4000, 8000];

/**
 * @typedef {object} WatchOptions
 * @property {(message: object) => boolean} send a message on the page's socket
 * @property {HTMLElement} section shown while watching (`data-playing` once frames come)
 * @property {HTMLVideoElement} element where the frames are drawn
 */

/** The patient's video, watched by a third party. */
export class PatientVideo {
  /** @param {WatchOptions} options */
  constructor(options) {
    this.options = options;
    /** @type {RTCPeerConnection | null} */
    this.pc = null;
    this.viewerId = '';
    this.active = false;
    this.retries = 0;
    this.retryTimer = 0;
    const video = options.element;
    video.muted = true;
    video.playsInline = true;
    video.addEventListener('loadeddata', () => {
      this.retries = 0;
      this.options.section.dataset.playing = 'true';
    });
  }

  /** Ask for the patient's video (again). */
  watch() {
    window.clearTimeout(this.retryTimer);
    this.active = true;
    this.options.section.hidden = false;
    this.closePeer();
    this.options.send({ type: 'watch' });
  }

  /** Stop watching (the third party left, or the visio ended). */
  stop() {
    this.active = false;
    window.clearTimeout(this.retryTimer);
    this.closePeer();
    this.options.element.srcObject = null;
    this.options.section.dataset.playing = 'false';
    this.options.section.hidden = true;
  }

  /**
   * A `video.*` message from the service.
   * @param {any} message
   */
  async onMessage(message) {
    if (!this.active) {
      return;
    }
    if (message.type === 'video.offer') {
      await this.answer(message);
    } else if (message.type === 'video.left' && message.viewer_id === this.viewerId) {
      this.retryLater();
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
    this.viewerId = String(message.viewer_id);
    pc.addEventListener('track', (event) => {
      this.options.element.srcObject = event.streams[0] || new MediaStream([event.track]);
      this.options.element.play().catch(() => {});
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
      if (this.pc === pc) {
        this.options.send({
          type: 'video.answer',
          viewer_id: this.viewerId,
          sdp: /** @type {RTCSessionDescription} */ (pc.localDescription).sdp,
        });
      }
    } catch (error) {
      console.warn('the patient video could not be answered', error);
      this.retryLater();
    }
  }

  /** @private */
  retryLater() {
    if (!this.active) {
      return;
    }
    this.closePeer();
    this.options.section.dataset.playing = 'false';
    window.clearTimeout(this.retryTimer);
    const delay = RETRY_DELAYS_MS[Math.min(this.retries, RETRY_DELAYS_MS.length - 1)];
    this.retries += 1;
    this.retryTimer = window.setTimeout(() => this.watch(), delay);
  }

  /** @private */
  closePeer() {
    const pc = this.pc;
    this.pc = null;
    if (pc) {
      pc.close();
    }
  }
}
