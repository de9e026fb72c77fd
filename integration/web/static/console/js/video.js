/**
 * The room's videos in a console: the console asks to watch over its
 * WebSocket, the service offers each camera of the room (the patient's, each
 * third party's) as its own send-only connection, the console answers, and the
 * frames are drawn in muted `<video>` elements: the main picture in place of
 * the waiting text, the others as thumbnails (see `thumbnails.js`). A lost
 * subscription is asked for again with a growing delay; a third party's camera
 * that goes away takes its thumbnail with it.
 * @module video
 */

import { PATIENT, PatientOnly } from './thumbnails.js';

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
 * @property {HTMLVideoElement} element where the main picture's frames are drawn
 * @property {import('./thumbnails.js').VideoLayout | import('./thumbnails.js').PatientOnly} [layout]
 *   the main picture and the thumbnails (without it: the patient's picture alone, other cameras
 *   are not answered)
 */

/**
 * One camera of the room, as this console receives it.
 * @typedef {object} Feed
 * @property {string} id the publisher's id
 * @property {RTCPeerConnection | null} pc
 * @property {string} viewerId
 * @property {MediaStream | null} stream
 * @property {boolean} playing
 * @property {number} lastFrameAt
 * @property {number} framesDecoded
 * @property {number} retries
 * @property {number} retryTimer
 */

/**
 * Resolve once `pc` has gathered its candidates (or after a while).
 * @param {RTCPeerConnection} pc
 * @returns {Promise<void>}
 */
export function gatheringComplete(pc) {
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

/** One session's videos in one console. */
export class RoomVideo {
  /**
   * @param {string} sessionId
   * @param {VideoOptions} options
   */
  constructor(sessionId, options) {
    this.sessionId = sessionId;
    this.options = options;
    this.layout = options.layout || new PatientOnly(options.element);
    /** Only the patient's camera is shown (no layout for thumbnails). */
    this.patientOnly = !options.layout;
    /** @type {Map<string, Feed>} the cameras, in order of arrival */
    this.feeds = new Map();
    this.active = false;
    /** The last picture stays while no frame comes (the room says why over it). */
    this.holding = false;
    this.retries = 0;
    this.retryTimer = 0;
    this.staleTimer = 0;
    const video = options.element;
    video.muted = true;
    video.playsInline = true;
    video.autoplay = true;
    // The element is not displayed until frames come, and a video that is not
    // displayed presents no frame: the first one is seen by 'loadeddata', and
    // the flow is followed from the receivers' statistics.
    video.addEventListener('loadeddata', () => this.onMainFrame());
    if ('requestVideoFrameCallback' in video) {
      const onFrame = () => {
        this.onMainFrame();
        video.requestVideoFrameCallback(onFrame);
      };
      video.requestVideoFrameCallback(onFrame);
    }
  }

  /** The viewer id of the patient's subscription ('' before the offer). */
  get viewerId() {
    const patient = this.feeds.get('patient');
    return patient ? patient.viewerId : '';
  }

  /** Draw the pictures again (their names may have changed with the session). */
  relabel() {
    if (this.active) {
      this.render();
    }
  }

  /** Start watching (again); the service sends an offer per camera. */
  watch() {
    window.clearTimeout(this.retryTimer);
    this.active = true;
    this.closeAll();
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
    this.closeAll();
    this.options.element.srcObject = null;
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
    const publisherId = String(message.publisher_id || 'patient');
    if (this.patientOnly && publisherId !== PATIENT) {
      return; // another camera: not shown here
    }
    if (message.type === 'video.offer') {
      await this.answer(publisherId, message);
    } else if (message.type === 'video.left') {
      const feed = this.feeds.get(publisherId);
      if (message.reason === 'session_closed') {
        this.stop();
      } else if (feed && (feed.viewerId === message.viewer_id || !feed.viewerId)) {
        if (message.reason === 'publisher_left') {
          // A third party's camera went: its picture goes (it is offered again if it returns).
          this.remove(feed);
        } else {
          this.retryFeed(feed);
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
   * @param {string} publisherId
   * @param {any} message
   */
  async answer(publisherId, message) {
    const feed = this.feed(publisherId);
    this.closePeer(feed);
    const pc = new RTCPeerConnection({ iceServers: Array.isArray(message.ice_servers) ? message.ice_servers : [] });
    feed.pc = pc;
    feed.viewerId = String(message.viewer_id);
    pc.addEventListener('track', (event) => {
      feed.stream = event.streams[0] || new MediaStream([event.track]);
      this.render();
    });
    pc.addEventListener('connectionstatechange', () => {
      if (feed.pc === pc && pc.connectionState === 'failed') {
        this.retryFeed(feed);
      }
    });
    this.render();
    try {
      await pc.setRemoteDescription({ type: 'offer', sdp: String(message.sdp) });
      await pc.setLocalDescription(await pc.createAnswer());
      await gatheringComplete(pc);
      if (feed.pc !== pc) {
        return;
      }
      this.options.send({
        type: 'video.answer',
        session_id: this.sessionId,
        viewer_id: feed.viewerId,
        sdp: /** @type {RTCSessionDescription} */ (pc.localDescription).sdp,
      });
    } catch (error) {
      console.warn('video offer could not be answered', error);
      this.retryFeed(feed);
    }
  }

  /**
   * The feed of a camera, made on its first offer.
   * @private
   * @param {string} id
   * @returns {Feed}
   */
  feed(id) {
    let feed = this.feeds.get(id);
    if (!feed) {
      feed = {
        id,
        pc: null,
        viewerId: '',
        stream: null,
        playing: false,
        lastFrameAt: 0,
        framesDecoded: 0,
        retries: 0,
        retryTimer: 0,
      };
      this.feeds.set(id, feed);
    }
    return feed;
  }

  /**
   * Ask for every camera again, later.
   * @private
   */
  retryLater() {
    if (!this.active) {
      return;
    }
    this.closeAll();
    window.clearTimeout(this.retryTimer);
    const delay = RETRY_DELAYS_MS[Math.min(this.retries, RETRY_DELAYS_MS.length - 1)];
    this.retries += 1;
    this.retryTimer = window.setTimeout(() => this.watch(), delay);
  }

  /**
   * Ask for one camera again, later (the others go on).
   * @private
   * @param {Feed} feed
   */
  retryFeed(feed) {
    if (!this.active) {
      return;
    }
    this.closePeer(feed);
    feed.viewerId = '';
    window.clearTimeout(feed.retryTimer);
    const delay = RETRY_DELAYS_MS[Math.min(feed.retries, RETRY_DELAYS_MS.length - 1)];
    feed.retries += 1;
    feed.retryTimer = window.setTimeout(() => {
      if (this.active && this.feeds.get(feed.id) === feed) {
        this.options.send({ type: 'watch', session_id: this.sessionId, publisher_id: feed.id });
      }
    }, delay);
  }

  /**
   * @private
   * @param {Feed} feed
   */
  remove(feed) {
    this.closePeer(feed);
    window.clearTimeout(feed.retryTimer);
    this.feeds.delete(feed.id);
    this.render();
  }

  /** @private */
  onMainFrame() {
    if (!this.active) {
      // A frame decoded before the stop must not bring a dead picture back.
      return;
    }
    const feed = this.feeds.get(this.layout.mainId);
    if (feed) {
      this.onFrame(feed);
    }
  }

  /**
   * @private
   * @param {Feed} feed
   */
  onFrame(feed) {
    feed.lastFrameAt = performance.now();
    feed.retries = 0;
    this.retries = 0;
    if (!feed.playing) {
      feed.playing = true;
      this.render();
    }
  }

  /**
   * Keep each camera's last picture while no frame comes (`true`: the service said the picture
   * froze or the patient is reconnecting), or let the waiting text come back as usual.
   * @param {boolean} hold
   */
  hold(hold) {
    if (this.holding === hold) {
      return;
    }
    this.holding = hold;
    for (const feed of this.feeds.values()) {
      if (hold && feed.lastFrameAt) {
        feed.playing = true;
      } else if (!hold && feed.lastFrameAt && performance.now() - feed.lastFrameAt > STALE_MS) {
        feed.playing = false;
      }
    }
    this.render();
  }

  /** @private */
  async checkStale() {
    for (const feed of [...this.feeds.values()]) {
      const pc = feed.pc;
      if (pc) {
        try {
          const stats = await pc.getStats();
          stats.forEach((report) => {
            if (report.type === 'inbound-rtp' && report.kind === 'video') {
              const decoded = Number(report.framesDecoded || 0);
              if (decoded > feed.framesDecoded && this.active) {
                this.onFrame(feed);
              }
              feed.framesDecoded = decoded;
            }
          });
        } catch {
          // closed meanwhile
        }
      }
      if (feed.playing && !this.holding && feed.lastFrameAt && performance.now() - feed.lastFrameAt > STALE_MS) {
        feed.playing = false;
        this.render();
      }
    }
  }

  /**
   * Draw the main picture and the thumbnails.
   * @private
   */
  render() {
    const pictures = [...this.feeds.values()].map((feed) => ({
      id: feed.id,
      stream: feed.stream,
      playing: feed.playing,
    }));
    const main = this.layout.render(pictures);
    const feed = this.feeds.get(main);
    this.setPlaying(Boolean(this.active && feed && feed.playing));
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
  closeAll() {
    for (const feed of this.feeds.values()) {
      this.closePeer(feed);
      window.clearTimeout(feed.retryTimer);
    }
    this.feeds.clear();
    this.layout.clear();
  }

  /**
   * @private
   * @param {Feed} feed
   */
  closePeer(feed) {
    const pc = feed.pc;
    feed.pc = null;
    feed.framesDecoded = 0;
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
