/**
 * Sending the patient's photos and files, loaded by the page only when one
 * is sent (a cheap phone on a weak network loads nothing it does not use).
 * Each upload shows its progress, is tried again by itself after a network
 * failure, and keeps its file until it is sent or the patient removes it; a
 * photo over the limit is made smaller on the phone, anything under it goes
 * as it is. "Photo HD" takes a full-resolution photo of the live camera
 * (`ImageCapture.takePhoto()` where the browser has it, else the current
 * frame at the track's resolution). Uploads go over HTTP, never the socket.
 *
 * Every upload is resumable (`ResumableUpload`): it is announced first
 * (`POST <link>/uploads`), its bytes go from the service's offset
 * (`PATCH` with `Content-Range`), and after a cut the page asks the service how
 * far it got (`GET`) and sends only the rest: on a weak network a photo arrives
 * in pieces instead of never.
 * @module uploads
 */

/** Delays before trying an upload again after a network failure; then the patient decides. */
export const RETRY_DELAYS_MS = [1000, 3000, 8000, 15000];
/** Photos larger than the limit are made at most this wide or high. */
export const MAX_SIDE = [4096, 3072, 2048, 1600];
/** Types the browser can redraw smaller (HEIC cannot: it is sent as is). */
const SCALABLE = ['image/jpeg', 'image/png', 'image/webp'];

/**
 * Where an upload goes, under the link's own path (its key cookie comes along).
 * @param {string} pagePath `/p/<token>`
 * @param {string} name
 * @param {'document' | 'photo'} kind
 * @param {string} [command] the regulator's "Photo HD" command id
 * @returns {string}
 */
export function uploadUrl(pagePath, name, kind, command = '') {
  const base = pagePath.replace(/\/+$/, '');
  let url = `${base}/documents?name=${encodeURIComponent(name)}`;
  if (kind === 'photo') {
    url += '&kind=photo';
  }
  if (command) {
    url += `&command=${encodeURIComponent(command)}`;
  }
  return url;
}

/** Delays before asking again after a cut, for uploads that go on until they arrive. */
export const RESUME_DELAYS_MS = [1000, 2000, 4000, 8000, 15000, 30000];

/**
 * The delay before try number `attempt` (from 1) of an upload that goes on until it arrives.
 * @param {number} attempt
 * @returns {number}
 */
export function resumeDelay(attempt) {
  return RESUME_DELAYS_MS[Math.min(Math.max(attempt, 1), RESUME_DELAYS_MS.length) - 1];
}

/**
 * Where a resumable upload is announced, under the link's own path.
 * @param {string} pagePath `/p/<token>`
 * @param {string} name
 * @param {'document' | 'photo'} kind
 * @param {string} command the regulator's "Photo HD" command id, if any
 * @param {number} size bytes
 * @param {'' | 'photo_mode'} [mode] a photo sent because video cannot pass
 * @returns {string}
 */
export function resumableUrl(pagePath, name, kind, command, size, mode = '') {
  const url = uploadUrl(pagePath, name, kind, command).replace('/documents?', '/uploads?') + `&size=${size}`;
  return mode ? `${url}&mode=${encodeURIComponent(mode)}` : url;
}

/**
 * What a resumable upload does after a reply that is not a step forward.
 * @param {number} status (0: the network)
 * @param {Record<string, any>} body
 * @returns {'restart' | 'retry' | 'refused'}
 */
export function resumeMove(status, body) {
  if (status === 404 && body && body.error_id === 'upload_not_found') {
    return 'restart'; // forgotten by the service (expired, restarted): from the first byte
  }
  // 409: another request of ours is still writing, or the offsets differ: ask, then go on.
  return status === 409 || failureKind(status) === 'retry' ? 'retry' : 'refused';
}

/**
 * @typedef {object} ResumeHooks
 * @property {(share: number) => void} onProgress the share the service has (0 to 1)
 * @property {(body: Record<string, any>, attempt: number) => number | null} onWaiting after
 *   failure number `attempt`: the delay before trying again, or null to stop there
 * @property {() => boolean} stopped whether to give up now (the page ended)
 * @property {() => void} [onRequest] a request with bytes of the file starts
 */

/**
 * @typedef {object} UploadOutcome
 * @property {'sent' | 'refused' | 'stopped'} state
 * @property {Record<string, any>} body the kept document, or the service's refusal
 */

/** One file sent in pieces from the service's offset: a cut costs only what was in flight. */
export class ResumableUpload {
  /**
   * @param {string} pagePath `/p/<token>`
   * @param {Blob} file
   * @param {string} name
   * @param {'document' | 'photo'} kind
   * @param {string} command
   * @param {'' | 'photo_mode'} [mode] a photo sent because video cannot pass
   */
  constructor(pagePath, file, name, kind, command, mode = '') {
    this.pagePath = pagePath.replace(/\/+$/, '');
    this.file = file;
    this.name = name;
    this.kind = kind;
    this.command = command;
    this.mode = mode;
    /** @type {string | null} the service's id, once announced */
    this.id = null;
    /** Bytes the service has. */
    this.offset = 0;
    /** Held back by `pause`: `run` returns, and goes on from the service's offset when called again. */
    this.paused = false;
    /** @type {XMLHttpRequest | null} the request in flight */
    this.request = null;
  }

  /** Stop sending now, the request in flight too (the link is wanted for something else). */
  pause() {
    this.paused = true;
    this.request?.abort();
  }

  /**
   * Send the file, resuming after each cut, until it is kept, refused, or the hooks stop it.
   * Calling it again after a stop goes on from where the service is.
   * @param {ResumeHooks} hooks
   * @returns {Promise<UploadOutcome>}
   */
  async run(hooks) {
    let failures = 0;
    let ask = this.id !== null;
    const size = this.file.size;
    this.paused = false;
    const track = (/** @type {XMLHttpRequest} */ xhr) => {
      this.request = xhr;
    };
    while (!hooks.stopped() && !this.paused) {
      let reply;
      if (this.id === null) {
        reply = await send('POST', resumableUrl(this.pagePath, this.name, this.kind, this.command, size, this.mode), null, {}, undefined, track);
        if (reply.status === 201 && typeof reply.body.id === 'string') {
          this.id = reply.body.id;
          this.offset = 0;
          continue;
        }
      } else if (ask) {
        reply = await send('GET', this.url(), null, {}, undefined, track);
        if (reply.status === 200) {
          ask = false;
          if (reply.body.document) {
            return { state: 'sent', body: reply.body.document };
          }
          this.offset = Number(reply.body.offset) || 0;
          hooks.onProgress(size ? this.offset / size : 0);
          continue;
        }
      } else {
        const start = this.offset;
        const range = `bytes ${start}-${size - 1}/${size}`;
        hooks.onRequest?.();
        reply = await send(
          'PATCH',
          this.url(),
          this.file.slice(start),
          { 'Content-Range': range },
          (loaded) => hooks.onProgress(size ? Math.min(1, (start + loaded) / size) : 0),
          track,
        );
        if (reply.status === 201 && reply.body.document) {
          return { state: 'sent', body: reply.body.document };
        }
        if (reply.status === 200 && Number.isFinite(reply.body.offset) && reply.body.offset > start) {
          this.offset = reply.body.offset;
          failures = 0;
          continue;
        }
      }
      if (this.paused) {
        break; // asked, not failed: where the service is gets asked on the next run
      }
      const move = resumeMove(reply.status, reply.body);
      if (move === 'refused') {
        return { state: 'refused', body: reply.body };
      }
      if (move === 'restart') {
        this.id = null;
        this.offset = 0;
        continue;
      }
      failures += 1;
      const delay = hooks.onWaiting(reply.body, failures);
      if (delay === null) {
        return { state: 'stopped', body: reply.body };
      }
      await new Promise((resolve) => window.setTimeout(resolve, delay));
      ask = this.id !== null;
    }
    return { state: 'stopped', body: {} };
  }

  /** @private */
  url() {
    return `${this.pagePath}/uploads/${this.id}`;
  }
}

/**
 * What to do after an upload failed with `status` (0: the network).
 * @param {number} status
 * @returns {'retry' | 'refused'}
 */
export function failureKind(status) {
  return status === 0 || status === 408 || status === 429 || status >= 500 ? 'retry' : 'refused';
}

/**
 * The delay before try number `attempt` (from 1), or null when it is the patient's turn.
 * @param {number} attempt
 * @returns {number | null}
 */
export function retryDelay(attempt) {
  return attempt >= 1 && attempt <= RETRY_DELAYS_MS.length ? RETRY_DELAYS_MS[attempt - 1] : null;
}

/**
 * Whether a file must be made smaller before it is sent: a photo the
 * browser can redraw, over the limit (anything under it goes untouched).
 * @param {string} type
 * @param {number} size
 * @param {number} limit bytes
 * @returns {boolean}
 */
export function shouldShrink(type, size, limit) {
  return SCALABLE.includes(type) && size > limit;
}

/**
 * A picture's size scaled down to fit `maxSide` (never up).
 * @param {number} width
 * @param {number} height
 * @param {number} maxSide
 * @returns {{ width: number, height: number }}
 */
export function fitWithin(width, height, maxSide) {
  const scale = Math.min(1, maxSide / Math.max(width, height, 1));
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

/**
 * The name of a photo taken for the regulator: `photo-hd-20261205-101502.jpg`.
 * @param {Date} date
 * @returns {string}
 */
export function photoName(date) {
  const two = (/** @type {number} */ n) => String(n).padStart(2, '0');
  const day = `${date.getFullYear()}${two(date.getMonth() + 1)}${two(date.getDate())}`;
  const time = `${two(date.getHours())}${two(date.getMinutes())}${two(date.getSeconds())}`;
  return `photo-hd-${day}-${time}.jpg`;
}

/**
 * A full-resolution photo from the live camera: `ImageCapture.takePhoto()` at
 * the largest size it offers where the browser has it, else the current frame
 * at the track's own resolution.
 * @param {MediaStreamTrack} track
 * @returns {Promise<{ blob: Blob, via: 'image_capture' | 'frame' }>}
 */
export async function capturePhoto(track) {
  const Capture = /** @type {any} */ (window).ImageCapture;
  if (typeof Capture === 'function') {
    try {
      const capture = new Capture(track);
      /** @type {Record<string, number>} */
      const settings = {};
      try {
        const capabilities = await capture.getPhotoCapabilities();
        if (capabilities && capabilities.imageWidth && capabilities.imageWidth.max > 0) {
          settings.imageWidth = capabilities.imageWidth.max;
          settings.imageHeight = capabilities.imageHeight.max;
        }
      } catch {
        // No photo settings: the camera's default photo.
      }
      const blob = await capture.takePhoto(settings);
      if (blob && blob.size > 0) {
        return { blob, via: 'image_capture' };
      }
    } catch (error) {
      console.warn('takePhoto failed, taking the video frame', error);
    }
  }
  return { blob: await grabFrame(track), via: 'frame' };
}

/**
 * The live track's current frame as a JPEG, at the frame's own size.
 * @param {MediaStreamTrack} track
 * @returns {Promise<Blob>}
 */
async function grabFrame(track) {
  const video = document.createElement('video');
  video.muted = true;
  video.playsInline = true;
  video.srcObject = new MediaStream([track]);
  try {
    await video.play();
    if (!video.videoWidth) {
      await new Promise((resolve) => video.addEventListener('resize', resolve, { once: true }));
    }
    const canvas = document.createElement('canvas');
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    const context = canvas.getContext('2d');
    if (!context) {
      throw new Error('no canvas');
    }
    context.drawImage(video, 0, 0);
    return await toJpeg(canvas, 0.92);
  } finally {
    video.srcObject = null;
  }
}

/**
 * @param {HTMLCanvasElement} canvas
 * @param {number} quality
 * @returns {Promise<Blob>}
 */
function toJpeg(canvas, quality) {
  return new Promise((resolve, reject) => {
    canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error('no picture'))), 'image/jpeg', quality);
  });
}

/**
 * A photo over the limit, redrawn smaller as a JPEG until it fits (the
 * original when the browser cannot decode it).
 * @param {Blob} file
 * @param {number} limit
 * @returns {Promise<Blob>}
 */
async function shrink(file, limit) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    return file;
  }
  try {
    for (const side of MAX_SIDE) {
      const size = fitWithin(bitmap.width, bitmap.height, side);
      const canvas = document.createElement('canvas');
      canvas.width = size.width;
      canvas.height = size.height;
      const context = canvas.getContext('2d');
      if (!context) {
        return file;
      }
      context.drawImage(bitmap, 0, 0, size.width, size.height);
      const smaller = await toJpeg(canvas, 0.85);
      if (smaller.size <= limit) {
        return smaller;
      }
    }
  } finally {
    bitmap.close();
  }
  return file;
}

/**
 * @typedef {object} Upload
 * @property {Blob} file kept until sent or removed
 * @property {ResumableUpload | null} sending its resumable upload, once the file is ready
 * @property {string} name
 * @property {'document' | 'photo'} kind
 * @property {string} command
 * @property {number} attempt
 * @property {HTMLLIElement} item
 */

/**
 * @typedef {object} UploadOwner the documents block the queue draws in
 * @property {HTMLUListElement} uploads the list of uploads
 * @property {string} pagePath `/p/<token>`
 * @property {number} limit the service's limit, bytes
 * @property {boolean} ended
 * @property {{ text: (key: string) => string }} hooks
 * @property {(item: any, fresh: boolean) => void} show list a document the service kept
 * @property {() => void} markFilled
 */

/** The patient's uploads, each on its line. */
export class UploadQueue {
  /** @param {UploadOwner} owner */
  constructor(owner) {
    this.owner = owner;
  }

  /**
   * Send a file (kept until it is sent or removed), its line first in the list.
   * @param {Blob} file
   * @param {string} name
   * @param {'document' | 'photo'} kind
   * @param {string} command
   */
  add(file, name, kind, command) {
    if (this.owner.ended) {
      return;
    }
    const item = document.createElement('li');
    item.className = 'upload';
    /** @type {Upload} */
    const upload = { file, name, kind, command, attempt: 0, item, sending: null };
    this.owner.uploads.prepend(item);
    this.owner.markFilled();
    this.send(upload);
  }

  /**
   * @private
   * @param {Upload} upload
   */
  async send(upload) {
    upload.attempt += 1;
    this.draw(upload, 'sending', 0, '');
    if (!upload.sending) {
      let body = upload.file;
      if (shouldShrink(body.type, body.size, this.owner.limit)) {
        body = await shrink(body, this.owner.limit);
      }
      upload.sending = new ResumableUpload(this.owner.pagePath, body, upload.name, upload.kind, upload.command);
    }
    let lastMessage = '';
    const outcome = await upload.sending.run({
      onProgress: (share) => this.draw(upload, 'sending', share, ''),
      onWaiting: (body, failures) => {
        lastMessage = typeof body.message === 'string' ? body.message : '';
        const delay = retryDelay(upload.attempt + failures - 1);
        if (delay !== null) {
          this.draw(upload, 'waiting', 0, lastMessage);
        }
        return delay;
      },
      stopped: () => this.owner.ended,
    });
    if (outcome.state === 'sent') {
      this.draw(upload, 'sent', 1, '');
      this.owner.show(/** @type {import('./documents.js').PageDocument} */ (outcome.body), false);
      return;
    }
    const message = typeof outcome.body.message === 'string' ? outcome.body.message : lastMessage;
    if (outcome.state === 'refused') {
      this.draw(upload, 'refused', 0, message);
      return;
    }
    // The patient decides; "Réessayer" goes on from what the service has.
    this.draw(upload, 'failed', 0, message);
  }

  /**
   * One upload's line: its name, its progress, what happened, what to do.
   * @private
   * @param {Upload} upload
   * @param {'sending' | 'sent' | 'waiting' | 'failed' | 'refused'} state
   * @param {number} share sent so far (0 to 1)
   * @param {string} message the service's words, if any
   */
  draw(upload, state, share, message) {
    const { item } = upload;
    item.dataset.state = state;
    const name = document.createElement('span');
    name.className = 'upload-name';
    name.textContent = upload.kind === 'photo' ? this.owner.hooks.text('document-photo') : upload.name || '—';
    const status = document.createElement('span');
    status.className = 'upload-status';
    status.setAttribute('role', 'status');
    status.textContent = message && state !== 'sending' ? message : this.owner.hooks.text(`document-${state}`);
    const parts = [name, status];
    if (state === 'sending') {
      const progress = document.createElement('progress');
      progress.max = 1;
      progress.value = share;
      parts.push(progress);
    }
    if (state === 'failed' || state === 'refused') {
      if (state === 'failed') {
        const retry = document.createElement('button');
        retry.type = 'button';
        retry.className = 'button button-secondary upload-action';
        retry.textContent = this.owner.hooks.text('document-retry');
        retry.addEventListener('click', () => {
          upload.attempt = 0;
          this.send(upload);
        });
        parts.push(retry);
      }
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.className = 'button button-secondary upload-action';
      remove.textContent = this.owner.hooks.text('document-remove');
      remove.addEventListener('click', () => {
        item.remove();
        this.owner.markFilled();
      });
      parts.push(remove);
    }
    item.replaceChildren(...parts);
  }
}

/**
 * One request, reporting the share of `body` sent; never rejects (status 0: the network).
 * @param {'POST' | 'PATCH' | 'GET'} method
 * @param {string} url
 * @param {Blob | null} body
 * @param {Record<string, string>} headers
 * @param {(loaded: number) => void} [onProgress] bytes of `body` sent so far
 * @param {(xhr: XMLHttpRequest) => void} [onRequest] the request, to abort it
 * @returns {Promise<{ status: number, body: Record<string, any> }>}
 */
function send(method, url, body, headers, onProgress, onRequest) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    onRequest?.(xhr);
    xhr.open(method, url);
    if (body) {
      xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    }
    for (const [name, value] of Object.entries(headers)) {
      xhr.setRequestHeader(name, value);
    }
    xhr.responseType = 'json';
    if (onProgress) {
      xhr.upload.addEventListener('progress', (event) => onProgress(event.loaded));
    }
    xhr.addEventListener('load', () => {
      const answer = xhr.response && typeof xhr.response === 'object' ? xhr.response : {};
      resolve({ status: xhr.status, body: answer });
    });
    xhr.addEventListener('error', () => resolve({ status: 0, body: {} }));
    xhr.addEventListener('timeout', () => resolve({ status: 0, body: {} }));
    xhr.addEventListener('abort', () => resolve({ status: 0, body: {} }));
    xhr.send(body);
  });
}
