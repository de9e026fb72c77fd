/**
 * The patient's video in a room: the console asks to watch over its
 * WebSocket, the service offers send-only video, the console answers, and the
 * frames are drawn in a muted `<video>` in place of the waiting text. A lost
 * subscription is asked for again with a growing delay.
 * @module video
 */

/** Delays before watching again after a failure (then the last one). */
const RETRY_DELAYS_MS = [500, 1000, 2000, 4000, 8000];
/** Longest wait for ICE candidates before the answer goes with what it has. */
const GATHERING_TIMEOUT_MS = 4000;
/** Without a frame for this long, the waiting text comes back. */
const STALE_MS = 2500;

/**
 * @typedef {object} VideoOptions
 * @property {(message: object) => boolean} send a message on the console's socket
 * @property {HTMLElement} container the room's video area (`data-playing` is set on it)
 * @property {HTMLVideoElement} element where the frames are drawn
 */

/**
 * Resolve once `pc` has gathered its candidates (or after a while).
 * @param {RTCPeerConnection} pc
 * @returns {Promise<void>}
 */
function gatheringComplete(pc) {
  if (pc.iceGatheringState === 'complete') {
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const timer = window.setTimeout(done, GATHERING_TIMEOUT_MS);
    function done() {
      window.clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      resolve();
    }
    function check() {
      if (pc.iceGatheringState === 'complete') {
        done();
      }
    }
    pc.addEventListener('icegatheringstatechange', check);
  });
}

/** One session's video in one console. */
export class RoomVideo {
  /**
   * @param {string} sessionId
   * @param {VideoOptions} options
   */
  constructor(sessionId, options) {
    this.sessionId = sessionId;
    this.options = options;
    /** @type {RTCPeerConnection | null} */
    this.pc = null;
    this.viewerId = '';
    this.active = false;
    this.retries = 0;
    this.retryTimer = 0;
    this.staleTimer = 0;
    this.lastFrameAt = 0;
    this.framesDecoded = 0;
    const video = options.element;
    video.muted = true;
    video.playsInline = true;
    video.autoplay = true;
    // The element is not displayed until frames come, and a video that is not
    // displayed presents no frame: the first one is seen by 'loadeddata', and
    // the flow is followed from the receiver's statistics.
    video.addEventListener('loadeddata', () => this.onFrame());
    if ('requestVideoFrameCallback' in video) {
      const onFrame = () => {
        this.onFrame();
        video.requestVideoFrameCallback(onFrame);
      };
      video.requestVideoFrameCallback(onFrame);
    }
  }

  /** Start watching (again); the service sends an offer. */
  watch() {
    window.clearTimeout(this.retryTimer);
    this.active = true;
    this.closePeer();
    if (!this.options.send({ type: 'watch', session_id: this.sessionId })) {
      // The socket is down: it calls `watch()` again once it is back.
      return;
    }
    window.clearInterval(this.staleTimer);
    this.staleTimer = window.setInterval(() => this.checkStale(), 1000);
  }

  /** Stop watching (leaving the room, or the session is closed). */
  stop() {
    if (!this.active) {
      return;
    }
    this.active = false;
    window.clearTimeout(this.retryTimer);
    window.clearInterval(this.staleTimer);
    this.options.send({ type: 'unwatch', session_id: this.sessionId });
    this.closePeer();
    this.options.element.srcObject = null;
    this.lastFrameAt = 0;
    this.setPlaying(false);
  }

  /**
   * A `video.*` message for this session.
   * @param {any} message
   */
  async onMessage(message) {
    if (!this.active) {
      return;
    }
    if (message.type === 'video.offer') {
      await this.answer(message);
    } else if (message.type === 'video.left') {
      if (message.viewer_id === this.viewerId || !this.viewerId) {
        this.closePeer();
        if (message.reason === 'session_closed') {
          this.stop();
        } else {
          this.retryLater();
        }
      }
    } else if (message.type === 'video.error') {
      if (message.error_id === 'room_closed' || message.error_id === 'session_not_found') {
        this.stop();
      } else {
        this.retryLater();
      }
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
      const stream = event.streams[0] || new MediaStream([event.track]);
      this.options.element.srcObject = stream;
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
      if (this.pc !== pc) {
        return;
      }
      this.options.send({
        type: 'video.answer',
        session_id: this.sessionId,
        viewer_id: this.viewerId,
        sdp: /** @type {RTCSessionDescription} */ (pc.localDescription).sdp,
      });
    } catch (error) {
      console.warn('video offer could not be answered', error);
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
    const delay = RETRY_DELAYS_MS[Math.min(this.retries, RETRY_DELAYS_MS.length - 1)];
    this.retries += 1;
    this.retryTimer = window.setTimeout(() => this.watch(), delay);
  }

  /** @private */
  onFrame() {
    if (!this.active) {
      // A frame decoded before the stop must not bring a dead picture back.
      return;
    }
    this.lastFrameAt = performance.now();
    this.retries = 0;
    this.setPlaying(true);
  }

  /** @private */
  async checkStale() {
    const pc = this.pc;
    if (pc) {
      try {
        const stats = await pc.getStats();
        stats.forEach((report) => {
          if (report.type === 'inbound-rtp' && report.kind === 'video') {
            const decoded = Number(report.framesDecoded || 0);
            if (decoded > this.framesDecoded) {
              this.onFrame();
            }
            this.framesDecoded = decoded;
          }
        });
      } catch {
        // closed meanwhile
      }
    }
    if (this.lastFrameAt && performance.now() - this.lastFrameAt > STALE_MS) {
      this.setPlaying(false);
    }
  }

  /**
   * @private
   * @param {boolean} playing
   */
  setPlaying(playing) {
    const value = String(playing);
    if (this.options.container.dataset.playing !== value) {
      this.options.container.dataset.playing = value;
    }
  }

  /** @private */
  closePeer() {
    const pc = this.pc;
    this.pc = null;
    this.framesDecoded = 0;
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
