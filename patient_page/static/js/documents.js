/**
 * Documents and photos on the patient's page, both ways. The patient sends
 * photos (the camera app, "Prendre une photo") or files (the gallery, a PDF):
 * this works whether or not the video ever started, which makes it the path
 * when video cannot pass (the sending itself is in `uploads.js`, loaded on the
 * first one). The regulator's documents appear in a list, to open or
 * save (while the video runs, the block shows only once it has something, so
 * that the video and "Terminer" keep the whole screen); "Photo HD" (the
 * regulator's command) takes a full-resolution photo
 * (`ImageCapture.takePhoto()` where it exists, else the best frame of the
 * live camera) and sends it the same way. Uploads go over HTTP, never the socket.
 * @module documents
 */

/**
 * @typedef {object} PageDocument
 * @property {string} id
 * @property {'document' | 'photo'} kind
 * @property {'to_patient' | 'from_patient'} direction
 * @property {string} name
 * @property {string} content_type
 * @property {number} size
 * @property {string} sent_at
 * @property {string} url
 */

/** The limit when the service has not said it yet (its default). */
const DEFAULT_LIMIT = 20_000_000;

/**
 * @typedef {object} DocumentHooks
 * @property {(message: object) => void} send on the page's socket
 * @property {() => MediaStreamTrack | null} track the live camera's track, if any
 * @property {(key: string) => string} text a translated text
 */

export class PatientDocuments {
  /** @param {DocumentHooks} hooks */
  constructor(hooks) {
    this.hooks = hooks;
    this.pagePath = window.location.pathname;
    this.section = /** @type {HTMLElement} */ (document.getElementById('documents'));
    this.cameraInput = /** @type {HTMLInputElement} */ (document.getElementById('document-camera'));
    this.fileInput = /** @type {HTMLInputElement} */ (document.getElementById('document-file'));
    this.uploads = /** @type {HTMLUListElement} */ (document.getElementById('uploads'));
    this.receivedBox = /** @type {HTMLElement} */ (document.getElementById('received-box'));
    this.received = /** @type {HTMLUListElement} */ (document.getElementById('received'));
    this.notice = /** @type {HTMLElement} */ (document.getElementById('document-notice'));
    this.limit = DEFAULT_LIMIT;
    /** @type {Set<string>} */
    this.known = new Set();
    this.ended = false;
    /** @type {Promise<import('./uploads.js').UploadQueue> | null} loaded with the first upload */
    this.queue = null;
  }

  start() {
    for (const input of [this.cameraInput, this.fileInput]) {
      input.addEventListener('change', () => {
        const files = Array.from(input.files || []);
        input.value = '';
        for (const file of files) {
          this.add(file, file.name, 'document', '');
        }
      });
    }
    this.load();
  }

  /** The session ended or the link went elsewhere: nothing more to send. */
  end() {
    this.ended = true;
    this.section.hidden = true;
  }

  /**
   * The page connects again (its network was down): the documents the regulator sent meanwhile,
   * whose news went with the old socket, are listed and announced.
   */
  refresh() {
    if (!this.ended) {
      this.load(true);
    }
  }

  /**
   * @private
   * @param {boolean} [fresh] whether documents not listed yet are news
   */
  async load(fresh = false) {
    try {
      const response = await fetch(`${this.pagePath.replace(/\/+$/, '')}/documents`, {
        credentials: 'same-origin',
        cache: 'no-store',
      });
      if (!response.ok) {
        return;
      }
      const body = await response.json();
      if (Number.isFinite(body.max_file_bytes) && body.max_file_bytes > 0) {
        this.limit = body.max_file_bytes;
      }
      const documents = Array.isArray(body.documents) ? body.documents : [];
      for (const item of documents.slice().reverse()) {
        this.show(item, fresh);
      }
    } catch (error) {
      console.warn('documents not listed', error);
    }
  }

  /**
   * A document of the session, told by the service once it is kept.
   * @param {PageDocument} item
   */
  onDocument(item) {
    this.show(item, true);
  }

  /**
   * The regulator's "Photo HD": take it now, answer, then send it.
   * @param {{ id: string }} command
   */
  async onPhotoCommand(command) {
    const id = String(command.id);
    const track = this.hooks.track();
    if (!track || track.readyState === 'ended') {
      this.hooks.send({ type: 'command.result', id, ok: false, error: 'not_supported' });
      return;
    }
    let photo;
    const { capturePhoto, photoName } = await import('./uploads.js');
    try {
      photo = await capturePhoto(track);
    } catch (error) {
      console.warn('photo failed', error);
      this.hooks.send({ type: 'command.result', id, ok: false, error: 'failed' });
      return;
    }
    this.hooks.send({ type: 'command.result', id, ok: true });
    this.say(this.hooks.text('document-photo-taken'));
    this.add(photo.blob, photoName(new Date()), 'photo', id);
  }

  /**
   * Send a file; the upload's code is loaded on the first one.
   * @private
   * @param {Blob} file
   * @param {string} name
   * @param {'document' | 'photo'} kind
   * @param {string} command
   */
  async add(file, name, kind, command) {
    if (!this.queue) {
      this.queue = import('./uploads.js').then((module) => new module.UploadQueue(this));
    }
    (await this.queue).add(file, name, kind, command);
  }

  /**
   * A document in the list of what was exchanged; the regulator's new ones are announced.
   * @param {PageDocument} item
   * @param {boolean} fresh
   */
  show(item, fresh) {
    if (!item || typeof item.id !== 'string' || this.known.has(item.id)) {
      return;
    }
    this.known.add(item.id);
    const line = document.createElement('li');
    line.className = 'received-item';
    line.dataset.direction = item.direction;
    line.dataset.documentId = item.id;
    const name = document.createElement('span');
    name.className = 'received-name';
    name.textContent = item.name;
    const from = document.createElement('span');
    from.className = 'received-from';
    from.textContent = this.hooks.text(item.direction === 'to_patient' ? 'document-from-regulator' : 'document-from-you');
    const open = document.createElement('a');
    open.className = 'button button-secondary received-open';
    open.href = `${item.url}?inline=1`;
    open.target = '_blank';
    open.rel = 'noopener noreferrer';
    open.textContent = this.hooks.text('document-open');
    const save = document.createElement('a');
    save.className = 'button button-secondary received-save';
    save.href = item.url;
    save.download = item.name;
    save.textContent = this.hooks.text('document-save');
    line.append(name, from, open, save);
    this.received.prepend(line);
    this.receivedBox.hidden = false;
    this.markFilled();
    if (fresh && item.direction === 'to_patient') {
      this.say(this.hooks.text('document-new'));
    }
  }

  /** Whether the block has anything to show (the live view hides it otherwise). */
  markFilled() {
    const filled = this.uploads.children.length > 0 || this.received.children.length > 0;
    this.section.dataset.empty = String(!filled);
  }

  /**
   * @private
   * @param {string} message
   */
  say(message) {
    this.notice.textContent = message;
    this.notice.hidden = !message;
    if (message) {
      this.section.dataset.empty = 'false';
    }
  }
}
