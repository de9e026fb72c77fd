/**
 * Photos when video cannot pass. Loaded once the camera is allowed (never
 * before: the page's first load stays small), it watches the video and, when
 * no frame reaches the service within a few seconds or the link's readings
 * (`linkadapt.js`, the one place that measures the link) judge it too weak for
 * video, switches the page to photo mode by itself: the video stops (the link is freed), a photo is taken (full
 * resolution where `ImageCapture` exists, else a frame of the camera), made
 * small enough for the link on the phone (about 200 KB), and sent as a
 * resumable upload that goes on until it arrives; then another one, at an
 * interval that fits the link, never two at once, and one at once when the
 * regulator asks. Video is tried again now and then; once it passes, photo
 * mode ends. Both sides are told in plain words, and the session's log
 * records it (`photo_mode` / `photo_mode_ended` on the socket).
 * @module photomode
 */

import { ResumableUpload, capturePhoto, fitWithin, resumeDelay } from './uploads.js';

/** How long the page waits for the service's first frame after the camera is allowed. */
export const NO_FRAME_MS = 8000;
/** Delays before trying video again while in photo mode (the last one repeats). */
export const VIDEO_RETRY_MS = [15_000, 30_000, 60_000];
/** The size a photo is made to fit (bytes): a few seconds on a weak mobile link. */
export const TARGET_BYTES = 200_000;
/** Automatic photos: never closer than this (ms)... */
export const MIN_INTERVAL_MS = 10_000;
/** ...never further apart than this. */
export const MAX_INTERVAL_MS = 60_000;
/**
 * A photo's upload running at this rate or more (bit/s) shows a link able to carry video again:
 * video is tried at once instead of at its next planned trial (a dip that ends).
 */
export const LINK_BACK_BPS = 400_000;
/** The span an upload's rate is read over (ms). */
export const RATE_WINDOW_MS = 1000;
/** The start of each upload is not read: the socket's buffer fills faster than the link. */
export const RATE_SETTLE_MS = 500;
/**
 * Two readings of an upload this close (ms) with this many bytes between them show the link's
 * rate at once, with no window to wait for: the queue of a dip emptying, its acknowledgements
 * freeing the socket's buffer in bulk.
 */
export const BURST_MS = 250;
export const BURST_BYTES = 32_000;
/** Trials of video that an upload's rate starts: never closer than this (ms). */
export const EARLY_TRIAL_GAP_MS = 10_000;
/**
 * While a photo goes out on a weak link, the page asks the TURN server for a relay address now
 * and then: the link's queue is full of the photo, so the answer is slow, until the link gets
 * its rate back and the queue empties at once. An answer this quick (ms, two round trips) then
 * tries video: the one reading that does not wait on TCP, whose retransmission timer backs off
 * during a dip.
 */
export const LINK_BACK_MS = 600;
/** The pause between two such questions while a photo goes out (ms). */
export const PROBE_GAP_MS = 200;
/** Sizes and JPEG qualities tried, best first, until a photo fits. */
export const COMPRESSION_STEPS = [
  { side: 1920, quality: 0.8 },
  { side: 1920, quality: 0.6 },
  { side: 1600, quality: 0.6 },
  { side: 1280, quality: 0.6 },
  { side: 1280, quality: 0.45 },
  { side: 960, quality: 0.5 },
  { side: 720, quality: 0.5 },
  { side: 480, quality: 0.45 },
];

/** @typedef {'no_frames' | 'weak_link'} PhotoReason */

/**
 * The steps to try for a picture of `width` x `height`: each one's size, the
 * largest side never above the picture's own (never enlarged), no size twice
 * at one quality.
 * @param {number} width
 * @param {number} height
 * @returns {{ width: number, height: number, quality: number }[]}
 */
export function compressionPlan(width, height) {
  /** @type {{ width: number, height: number, quality: number }[]} */
  const plan = [];
  const seen = new Set();
  for (const step of COMPRESSION_STEPS) {
    const size = fitWithin(width, height, step.side);
    const key = `${size.width}x${size.height}@${step.quality}`;
    if (!seen.has(key)) {
      seen.add(key);
      plan.push({ ...size, quality: step.quality });
    }
  }
  return plan;
}

/**
 * Encode along `plan` until a result fits `limit`; the smallest one when none does.
 * @template {{ size: number }} T
 * @param {{ width: number, height: number, quality: number }[]} plan
 * @param {(step: { width: number, height: number, quality: number }) => Promise<T>} encode
 * @param {number} limit bytes
 * @returns {Promise<{ result: T, tries: number }>}
 */
export async function fitSize(plan, encode, limit) {
  /** @type {T | null} */
  let smallest = null;
  let tries = 0;
  for (const step of plan) {
    const result = await encode(step);
    tries += 1;
    if (result.size <= limit) {
      return { result, tries };
    }
    if (smallest === null || result.size < smallest.size) {
      smallest = result;
    }
  }
  if (smallest === null) {
    throw new Error('nothing to encode');
  }
  return { result: smallest, tries };
}

/**
 * The wait before the next automatic photo, from how long the last one took
 * to arrive: three times that (the link stays mostly free), within bounds.
 * @param {number} lastUploadMs
 * @returns {number}
 */
export function photoInterval(lastUploadMs) {
  return Math.min(MAX_INTERVAL_MS, Math.max(MIN_INTERVAL_MS, Math.round(3 * lastUploadMs)));
}

/**
 * The delay before trial number `attempt` (from 1) of video in photo mode.
 * @param {number} attempt
 * @returns {number}
 */
export function videoRetryDelay(attempt) {
  return VIDEO_RETRY_MS[Math.min(Math.max(attempt, 1), VIDEO_RETRY_MS.length) - 1];
}

/**
 * The rate of one upload from its progress (bytes the browser has sent, over time): what the
 * link carries while a photo goes, the one reading photo mode has of it with no video.
 */
export class UploadRate {
  /** @param {number} now when the upload starts (ms) */
  constructor(now) {
    this.started = now;
    /** @type {[number, number][]} [time ms, bytes] from the end of the settling time */
    this.samples = [];
  }

  /**
   * Bytes sent at `now`; the rate (bit/s) over the last `RATE_WINDOW_MS` or more, or null while
   * the upload is too young to tell.
   * @param {number} now
   * @param {number} bytes
   * @returns {number | null}
   */
  add(now, bytes) {
    if (now < this.started + RATE_SETTLE_MS) {
      return null;
    }
    const previous = this.samples[this.samples.length - 1];
    this.samples.push([now, bytes]);
    if (previous && now - previous[0] <= BURST_MS && now > previous[0] && bytes - previous[1] >= BURST_BYTES) {
      return ((bytes - previous[1]) * 8 * 1000) / (now - previous[0]);
    }
    // The newest sample at least a window old is the reference; older ones are not needed.
    let reference = -1;
    for (let index = this.samples.length - 1; index >= 0; index -= 1) {
      if (now - this.samples[index][0] >= RATE_WINDOW_MS) {
        reference = index;
        break;
      }
    }
    if (reference < 0) {
      return null;
    }
    this.samples.splice(0, reference);
    const [then, before] = this.samples[0];
    return ((bytes - before) * 8 * 1000) / (now - then);
  }
}

/**
 * The rate of a whole upload (bit/s): `bytes` in `ms`.
 * @param {number} bytes
 * @param {number} ms
 * @returns {number}
 */
export function wholeRate(bytes, ms) {
  return (bytes * 8 * 1000) / Math.max(ms, 1);
}

/**
 * The TURN servers to ask, from the welcome's ICE servers: those reached over UDP, with their
 * credentials (a STUN answer alone may say nothing: a phone with no NAT learns no new address).
 * @param {RTCIceServer[]} servers
 * @returns {RTCIceServer[]}
 */
export function udpTurnServers(servers) {
  /** @type {RTCIceServer[]} */
  const chosen = [];
  for (const server of servers) {
    const urls = (Array.isArray(server.urls) ? server.urls : [server.urls]).filter((url) =>
      /^turn:[^?]+(\?transport=udp)?$/.test(url),
    );
    if (urls.length) {
      chosen.push({ ...server, urls: urls.slice(0, 1) });
    }
  }
  return chosen.slice(0, 1);
}

/**
 * The time (ms) a TURN server takes to give this phone a relay address (two round trips on the
 * link, through whatever queue it has), or null when it does not within `limit`.
 * @param {RTCIceServer[]} servers from `udpTurnServers`
 * @param {number} limit ms
 * @returns {Promise<number | null>}
 */
export async function relayRoundTrips(servers, limit) {
  const pc = new RTCPeerConnection({ iceServers: servers, iceTransportPolicy: 'relay' });
  try {
    pc.createDataChannel('probe');
    const answered = new Promise(
      /** @param {(ms: number | null) => void} resolve */
      (resolve) => {
        let asked = 0;
        pc.addEventListener('icecandidate', (event) => {
          if (event.candidate && event.candidate.type === 'relay') {
            resolve(performance.now() - asked);
          } else if (!event.candidate) {
            resolve(null);
          }
        });
        window.setTimeout(() => resolve(null), limit);
        pc.createOffer()
          .then((offer) => {
            asked = performance.now();
            return pc.setLocalDescription(offer);
          })
          .catch(() => resolve(null));
      },
    );
    return await answered;
  } finally {
    pc.close();
  }
}

/**
 * @typedef {object} PhotoHooks what the page lends photo mode
 * @property {(message: object) => void} send on the page's socket
 * @property {() => MediaStreamTrack | null} track the live camera's track
 * @property {() => void} pauseVideo stop sending video (the camera stays on)
 * @property {() => void} resumeVideo send video again (a new connection)
 * @property {(key: string, tone: 'wait' | 'live' | 'photo') => void} status the page's status line
 * @property {(key: string) => string} text a translated text
 * @property {() => RTCIceServer[]} [iceServers] the welcome's ICE servers
 */

/**
 * @typedef {object} Page what photo mode uses of the patient's page (`main.js`)
 * @property {(message: object) => void} send
 * @property {MediaStream | null} stream
 * @property {{ close: () => void } | null} link the video's connection, kept alive (`sending.js`)
 * @property {() => void} publish
 * @property {(key: string, tone: 'wait' | 'live' | 'photo') => void} setStatus
 * @property {RTCIceServer[] | null} iceServers
 */

/**
 * Photo mode for the patient's page (kept out of `main.js`: the page's first load stays small).
 * @param {Page} page
 * @param {(key: string) => string} text
 * @returns {PhotoMode}
 */
export function attach(page, text) {
  return new PhotoMode({
    send: (message) => page.send(message),
    track: () => (page.stream ? page.stream.getVideoTracks()[0] || null : null),
    pauseVideo: () => {
      // The link is freed: the connection goes (and stops reconnecting), the camera stays for
      // the photos.
      page.link?.close();
      page.link = null;
    },
    resumeVideo: () => page.publish(),
    status: (key, tone) => page.setStatus(key, tone),
    text,
    iceServers: () => page.iceServers || [],
  });
}

/**
 * An element with a class, an id and a text.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {string} id
 * @param {string} [content]
 * @returns {HTMLElementTagNameMap[K]}
 */
function element(tag, id, content = '') {
  const made = document.createElement(tag);
  made.id = id;
  made.className = id;
  made.textContent = content;
  return made;
}

/**
 * @typedef {object} QueuedPhoto
 * @property {Blob} photo
 * @property {string} command the regulator's command it answers ('' for an automatic one)
 * @property {ResumableUpload} [upload] once started: resumed where the service is
 */

/** Photo mode of the patient's page. */
export class PhotoMode {
  /** @param {PhotoHooks} hooks */
  constructor(hooks) {
    this.hooks = hooks;
    this.pagePath = window.location.pathname;
    // Its style and its block come with it, not with the page.
    const style = document.createElement('link');
    style.rel = 'stylesheet';
    style.href = '/patient/static/photomode.css';
    document.head.append(style);
    this.box = element('div', 'photo-mode');
    this.box.hidden = true;
    this.note = element('p', 'photo-mode-note');
    this.progress = element('progress', 'photo-mode-progress');
    this.progress.max = 1;
    this.progress.hidden = true;
    this.last = element('p', 'photo-mode-last');
    for (const live of [this.note, this.last]) {
      live.setAttribute('role', 'status');
      live.setAttribute('aria-live', 'polite');
    }
    this.box.append(element('p', 'photo-mode-hint', hooks.text('photo-mode-hint')), this.note, this.progress, this.last);
    const status = document.getElementById('status');
    (status?.nextElementSibling || status)?.after(this.box);
    /** In photo mode (told to the service). */
    this.active = false;
    /** The page holds its video back (photo mode between trials): no new connection. */
    this.holdsVideo = false;
    /** @type {PhotoReason} */
    this.reason = 'no_frames';
    /** The service saw this connection's first frame. */
    this.live = false;
    /** Video runs on trial in photo mode. */
    this.trying = false;
    /** The link's readings say the trial's connection carries video. */
    this.carries = false;
    this.trials = 0;
    /** When an upload's rate last started a trial of video (ms, `performance.now()`). */
    this.earlyTrialAt = -Infinity;
    this.stopped = false;
    this.uploading = false;
    /** @type {QueuedPhoto[]} photos taken, waiting for the upload in flight */
    this.queue = [];
    /** @type {QueuedPhoto | null} the photo being sent */
    this.current = null;
    /** @type {QueuedPhoto | null} an automatic photo held back while video is tried on a link back */
    this.held = null;
    this.noFrameTimer = 0;
    this.photoTimer = 0;
    this.retryTimer = 0;
    this.probeTimer = 0;
    // A reload starts again with video: the regulator must not see photo mode go on meanwhile.
    window.addEventListener('pagehide', () => {
      if (this.active) {
        this.hooks.send({ type: 'photo_mode_ended' });
      }
    });
  }

  /** The camera is allowed and the video starts: wait for its first frame. */
  cameraAllowed() {
    this.stopped = false;
    this.waitForFrames();
  }

  /** The service received this page's first frame. */
  onLive() {
    this.live = true;
    window.clearTimeout(this.noFrameTimer);
    this.settleTrial();
  }

  /**
   * The link's verdict on video (`linkadapt.js`): too weak gives way to photos (or fails the
   * trial of video); carrying it, with frames arriving, ends photo mode.
   * @param {import('./linkadapt.js').VideoVerdict} verdict
   */
  onLinkVerdict(verdict) {
    if (this.stopped || this.holdsVideo) {
      return;
    }
    if (verdict === 'carries') {
      this.carries = true;
      this.settleTrial();
    } else if (this.trying) {
      this.failTrial();
    } else if (!this.active) {
      this.enter('weak_link');
    }
  }

  /**
   * The page stops sending (the patient stopped, the camera is gone, the
   * session ended, the page goes away): photo mode ends with it.
   */
  stop() {
    if (this.active) {
      this.hooks.send({ type: 'photo_mode_ended' });
    }
    this.stopped = true;
    this.active = false;
    this.holdsVideo = false;
    this.held = null;
    for (const timer of [this.noFrameTimer, this.photoTimer, this.retryTimer, this.probeTimer]) {
      window.clearTimeout(timer);
    }
    this.box.hidden = true;
  }

  /**
   * The regulator's "Photo HD" or "Nouvelle photo" while in photo mode: taken
   * at once and answered, sent after the upload in flight.
   * @param {{ id: string }} command
   */
  onPhotoCommand(command) {
    this.takePhoto(String(command.id));
  }

  /** @private */
  waitForFrames() {
    this.live = false;
    window.clearTimeout(this.noFrameTimer);
    this.noFrameTimer = window.setTimeout(() => {
      if (this.live || this.stopped) {
        return;
      }
      if (this.trying) {
        this.failTrial();
      } else if (!this.active) {
        this.enter('no_frames');
      }
    }, NO_FRAME_MS);
  }

  /** @private A trial of video passes once frames arrive and the link carries them. */
  settleTrial() {
    if (this.trying && this.live && this.carries && !this.stopped) {
      this.leave();
    }
  }

  /**
   * @private
   * @param {PhotoReason} reason
   */
  enter(reason) {
    this.active = true;
    this.reason = reason;
    this.trials = 0;
    this.hooks.send({ type: 'photo_mode', reason });
    this.holdVideo();
    this.box.hidden = false;
    this.box.dataset.reason = reason;
    this.hooks.status(reason === 'weak_link' ? 'photo-mode-weak' : 'photo-mode-no-frames', 'photo');
    this.takePhoto('');
  }

  /** @private Video passes again: photos stop, the page says so. */
  leave() {
    this.trying = false;
    this.active = false;
    this.holdsVideo = false;
    this.held = null; // the video shows the scene: that photo is no longer needed
    window.clearTimeout(this.photoTimer);
    window.clearTimeout(this.retryTimer);
    this.hooks.send({ type: 'photo_mode_ended' });
    this.box.hidden = true;
    this.hooks.status('photo-mode-ended', 'live');
  }

  /** @private */
  holdVideo() {
    this.holdsVideo = true;
    this.trying = false;
    window.clearTimeout(this.noFrameTimer);
    this.hooks.pauseVideo();
    this.trials += 1;
    window.clearTimeout(this.retryTimer);
    this.retryTimer = window.setTimeout(() => this.tryVideo(), videoRetryDelay(this.trials));
  }

  /**
   * @private An upload ran at `bps`: fast enough, the link is back.
   * @param {number | null} bps
   */
  uploadRan(bps) {
    if (bps !== null && bps >= LINK_BACK_BPS) {
      this.linkBack();
    }
  }

  /**
   * @private The link is back to health: video is tried at once (the dip has ended), rather
   * than at the next planned trial; never twice within `EARLY_TRIAL_GAP_MS`.
   */
  linkBack() {
    const now = performance.now();
    // Only a link too weak for video can come back by its rate: one that lets no media through
    // at all (no frames) carries photos fast and still no video.
    const waits = this.active && this.holdsVideo && !this.stopped && this.reason === 'weak_link';
    if (!waits || now - this.earlyTrialAt < EARLY_TRIAL_GAP_MS) {
      return;
    }
    this.earlyTrialAt = now;
    performance.mark('visioregul:link-back');
    window.clearTimeout(this.retryTimer);
    // An automatic photo still going out would take the link from the video's first seconds,
    // as its estimate of the link grows: it waits, resumable, for the trial's outcome.
    if (this.current && !this.current.command) {
      this.current.upload?.pause();
    }
    this.tryVideo();
  }

  /**
   * @private While a photo goes out and video waits for a weak link: a quick TURN answer says
   * the link is back (see `LINK_BACK_MS`).
   */
  probeWhileSending() {
    window.clearTimeout(this.probeTimer);
    const servers = udpTurnServers(this.hooks.iceServers ? this.hooks.iceServers() : []);
    if (!servers.length || this.reason !== 'weak_link') {
      return;
    }
    const ask = async () => {
      if (!this.uploading || !this.holdsVideo || !this.active || this.stopped) {
        return;
      }
      // An answer slower than that says nothing: the question is dropped, the next one asked.
      if ((await relayRoundTrips(servers, LINK_BACK_MS)) !== null && this.uploading) {
        this.linkBack();
      }
      this.probeTimer = window.setTimeout(ask, PROBE_GAP_MS);
    };
    this.probeTimer = window.setTimeout(ask, PROBE_GAP_MS);
  }

  /** @private Try video again, photos going on meanwhile. */
  tryVideo() {
    if (!this.active || this.stopped) {
      return;
    }
    performance.mark('visioregul:video-trial');
    this.trying = true;
    this.holdsVideo = false;
    this.carries = false;
    this.waitForFrames();
    this.hooks.resumeVideo();
  }

  /** @private The trial did not pass: back to photos only, another trial later. */
  failTrial() {
    if (this.active && !this.stopped) {
      this.holdVideo();
      // Photos again: the one held back goes on from where the service has it.
      if (this.held) {
        this.queue.unshift(this.held);
        this.held = null;
        this.pump();
      } else if (!this.uploading) {
        this.takePhoto('');
      }
    }
  }

  /**
   * @private Take a photo, made small enough for the link, and queue it.
   * @param {string} command the regulator's command it answers, if any
   */
  async takePhoto(command) {
    window.clearTimeout(this.photoTimer);
    if (this.stopped || (!command && this.trying)) {
      return;
    }
    const track = this.hooks.track();
    if (!track || track.readyState === 'ended') {
      if (command) {
        this.hooks.send({ type: 'command.result', id: command, ok: false, error: 'not_supported' });
      }
      return;
    }
    let photo;
    try {
      photo = await compressPhoto((await capturePhoto(track)).blob, TARGET_BYTES);
    } catch (error) {
      console.warn('photo failed', error);
      if (command) {
        this.hooks.send({ type: 'command.result', id: command, ok: false, error: 'failed' });
      }
      return;
    }
    if (command) {
      this.hooks.send({ type: 'command.result', id: command, ok: true });
    }
    this.queue.push({ photo, command });
    this.pump();
  }

  /** @private Send the queued photos one at a time, then plan the next automatic one. */
  async pump() {
    if (this.uploading) {
      return;
    }
    this.uploading = true;
    let took = 0;
    try {
      while (this.queue.length > 0 && !this.stopped) {
        const next = /** @type {QueuedPhoto} */ (this.queue.shift());
        const started = performance.now();
        this.current = next;
        const outcome = await this.sendPhoto(next);
        this.current = null;
        if (outcome.state === 'stopped' && next.upload?.paused) {
          this.held = next; // video is tried on a link back: this photo waits for its outcome
          continue;
        }
        took = performance.now() - started;
      }
    } finally {
      this.uploading = false;
    }
    // No automatic photo while video is tried: the link is left to it.
    if (this.active && !this.stopped && !this.trying) {
      window.clearTimeout(this.photoTimer);
      this.photoTimer = window.setTimeout(() => this.takePhoto(''), photoInterval(took));
    }
  }

  /**
   * @private
   * @param {QueuedPhoto} queued
   * @returns {Promise<import('./uploads.js').UploadOutcome>}
   */
  async sendPhoto(queued) {
    const { photo, command } = queued;
    this.say('document-sending');
    this.showProgress(0);
    queued.upload ||= new ResumableUpload(
      this.pagePath,
      photo,
      photoFileName(new Date()),
      'photo',
      command,
      'photo_mode',
    );
    const upload = queued.upload;
    const started = performance.now();
    let rate = new UploadRate(started);
    this.probeWhileSending();
    const outcome = await upload.run({
      onProgress: (share) => {
        this.showProgress(share);
        this.uploadRan(rate.add(performance.now(), share * photo.size));
      },
      onWaiting: (_body, attempt) => {
        this.say('document-waiting');
        return resumeDelay(attempt);
      },
      stopped: () => this.stopped,
      // Each request's start fills the socket's buffer faster than the link: read anew.
      onRequest: () => {
        rate = new UploadRate(performance.now());
      },
    });
    this.progress.hidden = true;
    if (outcome.state === 'sent') {
      // A photo that went fast whole says the same, however short it was.
      this.uploadRan(wholeRate(photo.size, performance.now() - started));
      const time = new Date().toLocaleTimeString(document.documentElement.lang || 'fr', {
        hour: '2-digit',
        minute: '2-digit',
        second: '2-digit',
      });
      this.last.textContent = this.hooks.text('photo-mode-sent').replace('{time}', time);
      this.say('');
    } else if (outcome.state === 'refused') {
      this.last.textContent = typeof outcome.body.message === 'string' ? outcome.body.message : '';
      this.say('');
    } else {
      this.say('');
    }
    return outcome;
  }

  /**
   * @private
   * @param {number} share
   */
  showProgress(share) {
    this.progress.hidden = false;
    this.progress.value = share;
  }

  /**
   * @private
   * @param {string} key a text, or '' for none
   */
  say(key) {
    this.note.textContent = key ? this.hooks.text(key) : '';
  }
}

/**
 * The name of a photo sent in photo mode: `photo-20261205-101502.jpg`.
 * @param {Date} date
 * @returns {string}
 */
export function photoFileName(date) {
  const two = (/** @type {number} */ n) => String(n).padStart(2, '0');
  const day = `${date.getFullYear()}${two(date.getMonth() + 1)}${two(date.getDate())}`;
  return `photo-${day}-${two(date.getHours())}${two(date.getMinutes())}${two(date.getSeconds())}.jpg`;
}

/**
 * A photo made to fit `limit` bytes as a JPEG, along `compressionPlan`.
 * @param {Blob} photo
 * @param {number} limit
 * @returns {Promise<Blob>}
 */
export async function compressPhoto(photo, limit) {
  const bitmap = await createImageBitmap(photo);
  try {
    const canvas = document.createElement('canvas');
    const context = canvas.getContext('2d');
    if (!context) {
      throw new Error('no canvas');
    }
    const encode = async (/** @type {{ width: number, height: number, quality: number }} */ step) => {
      canvas.width = step.width;
      canvas.height = step.height;
      context.drawImage(bitmap, 0, 0, step.width, step.height);
      return await new Promise(
        /** @param {(blob: Blob) => void} resolve */
        (resolve, reject) => {
          canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error('no picture'))), 'image/jpeg', step.quality);
        },
      );
    };
    const { result } = await fitSize(compressionPlan(bitmap.width, bitmap.height), encode, limit);
    return result;
  } finally {
    bitmap.close();
  }
}
